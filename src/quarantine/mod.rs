//! Quarantine as code: the reviewed file of flaky tests that may fail without blocking a
//! merge ([`file`]), the rules that write it from history ([`update`]), their owners from
//! CODEOWNERS ([`codeowners`]), and [`refresh`], which does all of it for one repository.
//! The runners' own ways of applying it are in `framework::quarantine_args`.

pub mod codeowners;
pub mod file;
pub mod update;

use std::path::{Path, PathBuf};

use chrono::{Days, Utc};

pub use file::{Entry, FILE_PATH, QuarantineFile, QuarantineFileError};
pub use update::{Change, ChangeKind, Lookups};

use crate::config::{ConfigError, FileConfig};
use crate::framework::test_location::test_location;
use crate::history::{HistoryError, RunId, Store, TestHistory};

/// Why the quarantine could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error(transparent)]
    File(#[from] QuarantineFileError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(
        "history holds tests of {count} repositories in the last {days} days ({names}); name one with --repo"
    )]
    WhichRepo {
        count: usize,
        days: u32,
        names: String,
    },
}

/// What [`refresh`] did.
#[derive(Debug)]
pub struct Refreshed {
    pub path: PathBuf,
    pub repo: Option<String>,
    pub file: QuarantineFile,
    pub changes: Vec<Change>,
}

/// Rewrites `repo_dir`'s quarantine file from `store`: the rules come from `repo_dir`'s
/// `.flaky-detector.yml`, the tests are those of `repo` as history names it (when `None`,
/// the one repository history holds in the window), owners from `repo_dir`'s CODEOWNERS,
/// and links to `dashboard` (its base address) when given. Blocking.
pub fn refresh(
    repo_dir: &Path,
    store: &Store,
    repo: Option<&str>,
    dashboard: Option<&str>,
) -> Result<Refreshed, QuarantineError> {
    let config = FileConfig::load(repo_dir)?;
    let rules = config.quarantine_rules();
    let since = Utc::now()
        .checked_sub_days(Days::new(u64::from(rules.window_days)))
        .unwrap_or_default();
    let tests = store.test_histories(repo, since)?;
    let repo = match repo {
        Some(repo) => Some(repo.to_string()),
        None => one_repo(&tests, rules.window_days)?,
    };
    let old = QuarantineFile::load(repo_dir)?;
    let owners = codeowners::CodeOwners::load(repo_dir);
    let owner = |test: &TestHistory| {
        let owners = owners.as_ref()?;
        let place = test_location(test.framework, &test.name, repo_dir)?;
        owners.owners_of(&place.path, place.is_dir)
    };
    let link =
        |job: RunId| dashboard.map(|base| format!("{}/jobs/{job}", base.trim_end_matches('/')));
    let (file, changes) = update::update(
        &old,
        &tests,
        &rules,
        &Lookups {
            owner: &owner,
            link: &link,
        },
    );
    let path = file.save(repo_dir)?;
    Ok(Refreshed {
        path,
        repo,
        file,
        changes,
    })
}

/// The one repository `tests` belong to; an error naming them when there are several.
fn one_repo(tests: &[TestHistory], days: u32) -> Result<Option<String>, QuarantineError> {
    let mut repos: Vec<&str> = tests.iter().map(|t| t.repo.as_str()).collect();
    repos.dedup();
    match repos.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        many => Err(QuarantineError::WhichRepo {
            count: many.len(),
            days,
            names: many.iter().take(5).copied().collect::<Vec<_>>().join(", "),
        }),
    }
}

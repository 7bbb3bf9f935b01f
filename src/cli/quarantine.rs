//! `flaky-detector quarantine`: rewrites a repository's `.flaky-detector/quarantine.yml` from
//! history and says what changed; with `--apply-args RUNNER`, prints instead the runner's own
//! way to keep the listed tests from failing a CI step (that needs only the file, not history).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::error::CliError;
use super::history::DbArg;
use crate::detect::Deps;
use crate::framework::go::list::{skip_supported, top_level_tests};
use crate::framework::quarantine_args::ApplyRunner;
use crate::quarantine::{ChangeKind, QuarantineFile, Refreshed, refresh};

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The repository's folder: its `.flaky-detector/quarantine.yml` is written, and its
    /// `.flaky-detector.yml` (rules) and CODEOWNERS (owners) are read.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The repository as history names it (the URL without credentials, or the path given
    /// to `run --repo`) [default: the only one history holds in the window].
    #[arg(long)]
    pub repo: Option<String>,
    /// The dashboard's address, so each entry links to the job of its last failure.
    #[arg(long, env = "FLAKY_DASHBOARD_URL", value_name = "URL")]
    pub dashboard_url: Option<String>,
    /// Print, for a CI step, how RUNNER keeps the quarantined tests from failing the run
    /// (pytest: variables to put before the command; the others: arguments to put after
    /// it), instead of updating the file.
    #[arg(long, value_enum, value_name = "RUNNER")]
    pub apply_args: Option<ApplyRunner>,
}

pub fn run(args: QuarantineArgs) -> Result<(), CliError> {
    if let Some(runner) = args.apply_args {
        return apply_args(&args, runner);
    }
    let store = args.db.open_for_reading()?;
    let refreshed = refresh(
        &args.dir,
        &store,
        args.repo.as_deref(),
        args.dashboard_url.as_deref(),
    )?;
    print!(
        "{}",
        render(&refreshed, &store.path().display().to_string())
    );
    Ok(())
}

/// The line `--apply-args` prints: one line, empty when nothing of RUNNER's is quarantined.
fn apply_args(args: &QuarantineArgs, runner: ApplyRunner) -> Result<(), CliError> {
    let file = QuarantineFile::load(&args.dir).map_err(crate::quarantine::QuarantineError::from)?;
    let tests = file.ids_for(runner.framework());
    let cache_dir = Deps::from_env().cache_dir;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let go_tests = if runner == ApplyRunner::Go && !tests.is_empty() && !skip_supported(&args.dir) {
        Some(
            top_level_tests(&args.dir).map_err(|source| CliError::GoList {
                dir: args.dir.clone(),
                source,
            })?,
        )
    } else {
        None
    };
    let applied = runner
        .apply(&tests, &cache_dir, &env, go_tests.as_deref())
        .map_err(|source| CliError::WriteFile {
            path: cache_dir.clone(),
            source,
        })?;
    println!("{}", applied.shell_line());
    Ok(())
}

/// `path` without a leading `./` (the default `--dir`).
pub fn shown(path: &std::path::Path) -> &std::path::Path {
    path.strip_prefix(".").unwrap_or(path)
}

/// What changed, a line per test: `+` in, `-` out, `=` kept, `?` listed but not run lately.
pub fn render(refreshed: &Refreshed, db: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} quarantined test(s), from history {db}{}",
        shown(&refreshed.path).display(),
        refreshed.file.tests.len(),
        refreshed
            .repo
            .as_deref()
            .map(|r| format!(" (repository {r})"))
            .unwrap_or_default()
    );
    if refreshed.changes.is_empty() {
        let _ = writeln!(out, "  no flaky test meets the rules");
    }
    for change in &refreshed.changes {
        let mark = match change.kind {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "-",
            ChangeKind::Kept => "=",
            ChangeKind::Unseen => "?",
        };
        let _ = writeln!(out, "  {mark} {}  {}", change.id, change.why);
    }
    out
}

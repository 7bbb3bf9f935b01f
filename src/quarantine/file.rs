//! The quarantine file, `.flaky-detector/quarantine.yml` ([`QuarantineFile`]): the flaky
//! tests a team lets run without blocking merges, one [`Entry`] each, reviewed like code.
//! `flaky-detector quarantine` rewrites the figures; what people wrote (an `owner`, any key
//! of their own such as `issue:` or `note:`) is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::framework::Framework;
use crate::history::Status;

/// The file's path inside a repository.
pub const FILE_PATH: &str = ".flaky-detector/quarantine.yml";

/// What the file starts with; comments elsewhere are not kept (use a `note:` key).
const HEADER: &str = "\
# Quarantined flaky tests: they still run, but their failures do not fail CI.
# Written by `flaky-detector quarantine` from history (rules: `quarantine:` in
# .flaky-detector.yml); applied with `flaky-detector quarantine --apply-args RUNNER`.
# A test leaves when it is `fixed` (`flaky-detector verify-fix --test ID`) or `broken`.
# `owner` and any key you add (`issue:`, `note:`) are kept when the file is rewritten.
";

/// Why the quarantine file could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineFileError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a quarantine file: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineFile {
    #[serde(default)]
    pub tests: Vec<Entry>,
}

/// One quarantined test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The test's name as history records it (pytest: `classname::name`).
    pub id: String,
    pub framework: Framework,
    pub status: Status,
    /// The day of the first job in the window that ran it.
    pub first_seen: NaiveDate,
    /// Failure rate over the window, and its 95 % Wilson interval.
    pub rate: f64,
    pub interval: [f64; 2],
    pub runs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The history job of its last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<i64>,
    /// That job on the dashboard, when its address was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Keys people added, kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_norway::Value>,
}

impl QuarantineFile {
    /// Reads the file of `repo_dir`; a missing file is an empty quarantine.
    pub fn load(repo_dir: &Path) -> Result<QuarantineFile, QuarantineFileError> {
        let path = repo_dir.join(FILE_PATH);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(QuarantineFile::default());
            }
            Err(source) => return Err(QuarantineFileError::Read { path, source }),
        };
        QuarantineFile::parse(&text).map_err(|reason| QuarantineFileError::Invalid { path, reason })
    }

    /// The file's text as a quarantine; an empty text is an empty quarantine.
    pub fn parse(text: &str) -> Result<QuarantineFile, String> {
        if text.trim().is_empty() {
            return Ok(QuarantineFile::default());
        }
        serde_norway::from_str(text).map_err(|e| e.to_string().replace('\n', " "))
    }

    /// The text written: the header, then the entries sorted by id and framework, so two
    /// runs on the same history write the same bytes and a diff shows only what changed.
    pub fn render(&self) -> String {
        let mut sorted = self.clone();
        sorted.sort();
        let body = serde_norway::to_string(&sorted).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    pub fn sort(&mut self) {
        self.tests.sort_by(|a, b| {
            (a.id.as_str(), a.framework.name()).cmp(&(b.id.as_str(), b.framework.name()))
        });
    }

    /// Writes the file under `repo_dir` (its folder made if needed), through a temporary
    /// file renamed over it, so a reader never sees half a file.
    pub fn save(&self, repo_dir: &Path) -> Result<PathBuf, QuarantineFileError> {
        let path = repo_dir.join(FILE_PATH);
        let write = |path: &Path| -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(repo_dir);
            std::fs::create_dir_all(dir)?;
            let partial = dir.join(format!(".quarantine.yml.{}.tmp", std::process::id()));
            std::fs::write(&partial, self.render())?;
            std::fs::rename(&partial, path)
        };
        write(&path).map_err(|source| QuarantineFileError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// The ids quarantined for `framework`, in file order.
    pub fn ids_for(&self, framework: Framework) -> Vec<String> {
        self.tests
            .iter()
            .filter(|e| e.framework == framework)
            .map(|e| e.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.into(),
            framework: Framework::Python,
            status: Status::Flaky,
            first_seen: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
            rate: 0.25,
            interval: [0.1, 0.5],
            runs: 40,
            owner: None,
            job: Some(3),
            link: None,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn written_text_reads_back_sorted_with_hand_added_keys() {
        let mut b = entry("tests.b::test_b");
        b.extra.insert(
            "issue".into(),
            serde_norway::Value::String("https://example.com/1".into()),
        );
        let file = QuarantineFile {
            tests: vec![b, entry("tests.a::test_a")],
        };
        let text = file.render();
        assert!(text.starts_with("# Quarantined flaky tests"));
        let back = QuarantineFile::parse(&text).expect("reads back");
        assert_eq!(back.tests[0].id, "tests.a::test_a");
        assert_eq!(
            back.tests[1].extra.get("issue"),
            Some(&serde_norway::Value::String("https://example.com/1".into()))
        );
        assert_eq!(back.render(), text, "the same bytes again");
        assert!(text.contains("status: flaky"), "{text}");
    }

    #[test]
    fn an_empty_or_missing_file_is_an_empty_quarantine() {
        assert_eq!(
            QuarantineFile::parse("").expect("empty"),
            QuarantineFile::default()
        );
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(
            QuarantineFile::load(dir.path())
                .expect("missing")
                .tests
                .is_empty()
        );
        let err = QuarantineFile::parse("tests: 3\n").expect_err("not a list");
        assert!(!err.contains('\n'), "{err}");
    }
}

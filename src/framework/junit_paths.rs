//! The config's `junit_paths` ([`JunitGlobs`]): JUnit files a command writes by itself
//! (`make test`, `npm test`), found by globs relative to the run's working directory. Only
//! files the run wrote or changed are its report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::results::junit;
use super::results::test_result::TestReport;
use crate::errors::one_line;
use crate::workspace::read::{REPORT_CAP, read_capped};

/// The config's `junit_paths`, compiled.
#[derive(Debug, Clone)]
pub struct JunitGlobs {
    set: GlobSet,
    /// Literal leading directories of each pattern: only these are walked.
    roots: Vec<PathBuf>,
}

impl JunitGlobs {
    /// Compiles the patterns. They were checked when the config was read, so a pattern that
    /// still fails to compile is dropped rather than failing the job; `None` when none is
    /// left.
    pub fn new(patterns: &[String]) -> Option<JunitGlobs> {
        let mut builder = GlobSetBuilder::new();
        let mut roots = Vec::new();
        for pattern in patterns {
            if let Ok(glob) = Glob::new(pattern) {
                builder.add(glob);
                roots.push(literal_root(pattern));
            }
        }
        if roots.is_empty() {
            return None;
        }
        let set = builder.build().ok()?;
        Some(JunitGlobs { set, roots })
    }
}

/// A file's identity as far as "did the run write it?" goes.
pub type Stamp = (Option<SystemTime>, u64);

/// Directories never walked for `junit_paths` unless a pattern names them literally.
const NOT_WALKED: [&str; 3] = [".git", "node_modules", "__pycache__"];

impl JunitGlobs {
    /// Matching files under `cwd` with their modification stamps.
    pub fn scan(&self, cwd: &Path) -> HashMap<PathBuf, Stamp> {
        let mut found = HashMap::new();
        for root in &self.roots {
            self.walk(cwd, &cwd.join(root), 0, &mut found);
        }
        found
    }

    fn walk(&self, cwd: &Path, dir: &Path, depth: usize, found: &mut HashMap<PathBuf, Stamp>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                if depth < 12 && !NOT_WALKED.iter().any(|n| name == *n) {
                    self.walk(cwd, &path, depth + 1, found);
                }
            } else if (kind.is_file() || kind.is_symlink())
                // An overlay's record of a deleted file (a character device) is no report.
                && let Ok(relative) = path.strip_prefix(cwd)
                && self.set.is_match(relative)
                && let Ok(meta) = entry.metadata()
            {
                found.insert(path, (meta.modified().ok(), meta.len()));
            }
        }
    }

    /// Parses the matching files the run wrote or changed (a file left from before the run
    /// is not this run's report).
    pub fn collect(&self, cwd: &Path, before: &HashMap<PathBuf, Stamp>) -> TestReport {
        let mut written: Vec<(PathBuf, Stamp)> = self
            .scan(cwd)
            .into_iter()
            .filter(|(path, stamp)| before.get(path) != Some(stamp))
            .collect();
        if written.is_empty() {
            return TestReport::Missing;
        }
        written.sort();
        let mut results = Vec::new();
        for (path, _) in written {
            let parsed = read_capped(&path, REPORT_CAP)
                .map_err(|e| e.to_string())
                .and_then(|xml| junit::parse(&xml).map_err(|e| one_line(&e)));
            match parsed {
                Ok(mut more) => results.append(&mut more),
                Err(reason) => {
                    let shown = path.strip_prefix(cwd).unwrap_or(&path).display();
                    return TestReport::Unreadable(format!("{shown}: {reason}"));
                }
            }
        }
        TestReport::Parsed(results)
    }
}

/// The leading components of `pattern` that hold no glob syntax: `reports/junit/*.xml`
/// only needs `reports/junit` walked.
fn literal_root(pattern: &str) -> PathBuf {
    let mut root = PathBuf::new();
    let parts: Vec<&str> = pattern.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        root.push(part);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_globs_only_walk_their_literal_root() {
        assert_eq!(
            literal_root("reports/junit/*.xml"),
            PathBuf::from("reports/junit")
        );
        assert_eq!(literal_root("**/TEST-*.xml"), PathBuf::new());
        assert_eq!(literal_root("junit.xml"), PathBuf::new());
    }

    #[test]
    fn only_files_the_run_wrote_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = dir.path();
        std::fs::create_dir_all(cwd.join("out")).expect("mkdir");
        let stale = "<testsuite><testcase name='old'/></testsuite>";
        std::fs::write(cwd.join("out/stale.xml"), stale).expect("write");
        let globs = JunitGlobs::new(&["out/*.xml".to_string()]).expect("valid glob");
        let before = globs.scan(cwd);
        assert_eq!(globs.collect(cwd, &before), TestReport::Missing);
        std::fs::write(
            cwd.join("out/new.xml"),
            "<testsuite><testcase classname='c' name='fresh'><failure message='no'/></testcase></testsuite>",
        )
        .expect("write");
        let report = globs.collect(cwd, &before);
        let results = report.results().expect("parsed").to_vec();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].name, "c::fresh");
        assert_eq!(results[0].message.as_deref(), Some("no"));
    }
}

//! One test case's result in one run ([`TestResult`]) and what a run's machine-readable
//! report gave ([`TestReport`]): the common shape every report parser ([`super::junit`],
//! [`super::jest`], [`super::go_test`]) produces.

use serde::{Deserialize, Serialize};

/// Longest first line of a failure message kept per run. The summary cuts it again to
/// `max_error_length`; this bound only keeps a runaway message from filling memory.
pub const MESSAGE_LIMIT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Passed,
    /// A failed assertion or an error (setup, teardown, crash) alike: both mean "did not pass".
    Failed,
    Skipped,
    /// Still running when the run was killed at the timeout: the test that hung.
    #[serde(rename = "timeout")]
    TimedOut,
}

impl TestStatus {
    /// True for every way of not passing.
    pub fn failed(self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::TimedOut)
    }
}

/// A test case as one run reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// A name that stays the same across runs: `classname::name` for JUnit, `file::a › b`
    /// for Jest, `package::TestName` for Go. Never includes the run's own directory.
    pub name: String,
    pub status: TestStatus,
    /// First line of the failure message, for failed tests.
    pub message: Option<String>,
    /// The scope a JUnit report gave the case (its `classname`, else its suite's name), which
    /// `name` starts with (`classname::case`). Kept so that a JUnit report written from the
    /// summary names the case exactly as the runner did, where splitting `name` at a `::`
    /// could not (a nextest classname holds `::` itself). `None` for other reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    /// The runner's own time for the case in this run, when its report gives one (JUnit's
    /// `time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl TestResult {
    /// True for the case pytest's JUnit report writes for a file it could not collect
    /// (`<error message="collection failure">`): the command failing, not a test.
    pub fn is_collection_error(&self) -> bool {
        self.message
            .as_deref()
            .is_some_and(|m| m.starts_with("collection failure"))
    }
}

/// What a run's report said, or why there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TestReport {
    /// The command is not one we can ask for a report, and no `junit_paths` were given:
    /// the whole command is the unit.
    #[default]
    NotRequested,
    /// A report was expected but the run wrote none (it crashed, timed out, or the runner
    /// ignored the option).
    Missing,
    /// The report exists but could not be read; the text says why, in one line.
    Unreadable(String),
    Parsed(Vec<TestResult>),
    /// Results read from the run's console output: the failures it printed and the passes it
    /// could tell, so a known test it does not name passed when the run finished.
    Console(Vec<TestResult>),
}

impl TestReport {
    /// The parsed results, if any.
    pub fn results(&self) -> Option<&[TestResult]> {
        match self {
            TestReport::Parsed(results) | TestReport::Console(results) => Some(results),
            _ => None,
        }
    }

    /// The results, mutable, when there are any.
    pub fn results_mut(&mut self) -> Option<&mut Vec<TestResult>> {
        match self {
            TestReport::Parsed(results) | TestReport::Console(results) => Some(results),
            _ => None,
        }
    }
}

/// The first non-empty line of `text`, trimmed and bounded by [`MESSAGE_LIMIT`] characters.
pub fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(cut(line, MESSAGE_LIMIT))
}

/// `text` cut to at most `max` characters, with `…` marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => {
            let keep = text[..at]
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(at, |(i, _)| i);
            format!("{}…", &text[..keep])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines_and_trims() {
        assert_eq!(
            first_line("\n   \n  boom: it broke  \nsecond"),
            Some("boom: it broke".into())
        );
        assert_eq!(first_line(" \n\t\n"), None);
    }

    #[test]
    fn cut_counts_characters_and_marks_the_cut() {
        assert_eq!(cut("héllo", 10), "héllo");
        assert_eq!(cut("héllo", 5), "héllo");
        assert_eq!(cut("héllo wörld", 5), "héll…");
        assert_eq!(cut("héllo wörld", 5).chars().count(), 5);
    }
}

//! The triage part of a job input ([`TriageRequest`]): what a red pull request's failing
//! tests are compared with, and where their names come from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{MAX_RUNS, Problem, check_ref_named};

/// Most runs each side gets when the input does not say.
pub const DEFAULT_TRIAGE_RUNS: u32 = 60;

/// Largest JUnit report a job input may carry (a red run's report, not an archive).
const MAX_JUNIT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    /// The base to compare the head (`ref`) with: a branch, tag or commit (default: the
    /// merge base of `ref` and the repository's default branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub base_ref: Option<String>,
    /// The JUnit XML report of the red CI run, as text: its failed test cases are the
    /// tests triaged (with `tests`, both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub junit: Option<String>,
    /// Most runs on each side (default 60); each verdict stops as soon as it is settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_RUNS), extend("default" = DEFAULT_TRIAGE_RUNS))]
    pub max_runs: Option<u32>,
}

impl TriageRequest {
    /// Problems with the request; `has_tests` says whether the input names tests itself.
    pub fn check(&self, has_tests: bool, problems: &mut Vec<Problem>) {
        if let Some(base) = &self.base_ref
            && let Err(problem) = check_ref_named("triage.base_ref", base)
        {
            problems.push(problem);
        }
        match &self.junit {
            None if !has_tests => problems.push(Problem::new(
                "triage",
                "needs the failing tests: `tests` (names) or `triage.junit` (the red run's JUnit report)",
            )),
            Some(junit) if junit.len() > MAX_JUNIT_BYTES => problems.push(Problem::new(
                "triage.junit",
                format!("is larger than {} MiB", MAX_JUNIT_BYTES / (1024 * 1024)),
            )),
            _ => {}
        }
        if let Some(runs) = self.max_runs
            && !(1..=MAX_RUNS).contains(&runs)
        {
            problems.push(Problem::new(
                "triage.max_runs",
                format!("must be 1 to {MAX_RUNS}, got {runs}"),
            ));
        }
    }
}

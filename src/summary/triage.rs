//! A triage job's answer ([`TriageReport`]), carried in the summary of its head side: for
//! each failing test of a red pull request, a verdict on whose fault the failure is, with the
//! counts on both sides and why its runs stopped.

use serde::{Deserialize, Serialize};

use crate::analysis::stats::round3;
use crate::analysis::triage::{Tally, TriageVerdict};

/// The verdicts of a triage job, and what was compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageReport {
    pub head: TriageSide,
    pub base: TriageSide,
    /// Most runs each side could get.
    pub max_runs: u32,
    /// Runs made at head and at base (the same seeds, as far as each side went).
    pub head_runs: u32,
    pub base_runs: u32,
    /// Why the runs stopped, one sentence.
    pub stopped: String,
    /// One per failing test, regressions first.
    pub tests: Vec<TestTriage>,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageSide {
    /// The ref as given (or how it was found: "merge base of … and …").
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit that ran.
    pub commit: String,
}

/// One failing test's verdict and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestTriage {
    pub test: String,
    pub verdict: TriageVerdict,
    /// True when the test does not exist at base: judged at head alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_at_head: bool,
    pub head: SideCounts,
    pub base: SideCounts,
    /// Runs a side when the verdict settled (or the budget ran out).
    pub settled_after: u32,
    /// The evidence in one sentence, counts included.
    pub evidence: String,
    /// What history knows of the test, when the job had history and it was there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
}

/// A test's counts on one side, with the 95 % Wilson interval of its failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SideCounts {
    pub runs: u32,
    pub failures: u32,
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl From<Tally> for SideCounts {
    fn from(tally: Tally) -> SideCounts {
        let interval = tally.interval();
        let rate = if tally.runs == 0 {
            0.0
        } else {
            f64::from(tally.failures) / f64::from(tally.runs)
        };
        SideCounts {
            runs: tally.runs,
            failures: tally.failures,
            rate: round3(rate),
            ci_low: round3(interval.low),
            ci_high: round3(interval.high),
        }
    }
}

impl TriageReport {
    /// True when some failing test was broken by the change (`--fail-on regression`).
    pub fn has_regression(&self) -> bool {
        self.tests
            .iter()
            .any(|t| t.verdict == TriageVerdict::Regression)
    }
}

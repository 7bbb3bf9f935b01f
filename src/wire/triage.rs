//! A triage's answer ([`TriageReport`]), as the summary carries it in `triage`.

use serde::{Deserialize, Serialize};

/// Whose fault a failing test is; ordered as a report lists them, regressions first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriageVerdict {
    /// Fails reliably at head, passes at base: the change broke it.
    Regression,
    /// Fails intermittently at base as well: not this change's fault.
    FlakyBefore,
    /// Intermittent at head, clean at base: the change made it flaky.
    NewFlake,
    /// Passed every run at head within the budget.
    CouldNotReproduce,
    /// Fails reliably at base too.
    BrokenAtBase,
    /// Ran on neither side: the name matches no test.
    NotFound,
}

impl TriageVerdict {
    /// The words a report shows.
    pub fn label(self) -> &'static str {
        match self {
            TriageVerdict::Regression => "regression",
            TriageVerdict::FlakyBefore => "flaky before this change",
            TriageVerdict::NewFlake => "new flake",
            TriageVerdict::CouldNotReproduce => "could not reproduce",
            TriageVerdict::BrokenAtBase => "broken at base too",
            TriageVerdict::NotFound => "not found",
        }
    }
}

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

//! The output of a job ([`Summary`]), as RunPod, `serve` and `run --json` return it.

use serde::{Deserialize, Serialize};

use super::figures::{Severity, Thresholds, Verdict};
use super::findings::{
    Classification, CommandFailure, ConfirmationReport, OrderFinding, TestCaseStats,
};
use super::install::InstallReport;
use super::isolation::Mechanism;
use super::triage::TriageReport;
use crate::job::Framework;

/// One run as reported. `attempt`, `exit_code`, `stdout`, `stderr` and `passed` are the seed
/// project's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub attempt: u32,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub passed: bool,
    pub seed: u64,
    pub duration_ms: u64,
    pub timed_out: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub output_truncated_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A job's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    // The seed project's fields.
    pub total_runs: u32,
    pub parallelism: u32,
    pub framework: Framework,
    pub failures: u32,
    pub repro_rate: f64,
    pub results: Vec<RunResult>,
    // Ours.
    pub verdict: Verdict,
    pub severity: Severity,
    /// 95 % Wilson interval of the failure rate.
    pub ci_low: f64,
    pub ci_high: f64,
    pub runs_requested: u32,
    /// Runs not started because the verdict could no longer change (`stop_early`).
    #[serde(default)]
    pub runs_saved: u32,
    /// How runs were kept apart (`overlay`, `copy`, `slot` or `shared`); picked at job start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_mechanism: Option<Mechanism>,
    pub timeouts: u32,
    pub failing_seeds: Vec<u64>,
    /// Per test case, flakiest first; empty when the runner gave no per-test report.
    #[serde(default)]
    pub tests: Vec<TestCaseStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Set when the interval spans more than one severity band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_note: Option<String>,
    /// For an always-failing command: the first line of its first error, cut to
    /// `max_error_length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationReport>,
    /// Runs that failed beyond their test cases; the verdict follows the test cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_failure: Option<CommandFailure>,
    /// Order-dependent tests and the tests that must (or must not) run before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_dependence: Vec<OrderFinding>,
    /// A shell line that replays the first failing run in a checkout of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
    /// Runs needed to see a flake at the `low` threshold at least once with 95 % probability.
    pub runs_needed: u32,
    /// The severity bands the job used (job input > repository file > defaults), so a
    /// merge of shards places its combined rate in the same bands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    pub install: InstallReport,
    pub repo: String,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub test_command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The failing tests that the repository's `.flaky-detector/quarantine.yml` lists: its
    /// CI lets them fail without blocking (`flaky-detector quarantine`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<String>,
    /// True when the job was stopped before all runs finished; the figures cover the runs
    /// that did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_dir: Option<String>,
    /// How the runs started the tests (`build_once`): what was built once (`"go test
    /// binary"`), or `"off: <reason>"` for plain runs of the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_once: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// A triage job's verdicts (the rest of the summary is its head side's runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<TriageReport>,
    pub duration_seconds: f64,
    /// The JUnit report of the job (`report::junit`), when its input asked for it with
    /// `junit: true`: a worker's caller has no file of ours to read, so it comes back here.
    /// Set after the job is recorded, so history never stores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit_xml: Option<String>,
}

//! What the analysis concludes about a job's failures, in the shape the summary reports:
//! a test case's figures ([`TestCaseStats`]), why something failed ([`Classification`]), a
//! command failing beyond its tests ([`CommandFailure`]), an order-dependent test with
//! the tests that decide it ([`OrderFinding`]) and the confirmation phase's evidence
//! ([`ConfirmationReport`]). Computed by `analysis`, which re-exports them, as `summary`
//! does.

use serde::{Deserialize, Serialize};

use super::figures::{Severity, Verdict};

/// Why something failed, as told by the confirmation phase (failing seeds replayed alone and
/// under load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classification {
    /// Every replay of a failing seed failed again: the seed decides.
    SeedDependent,
    /// Replays of the same seed both passed and failed: timing, concurrency, environment.
    Nondeterministic,
    /// Fails under parallel load, never when replayed alone.
    ContentionDependent,
    /// The replays' budget was spent before one class could be decided at the stated level
    /// (`analysis::classify::LEVEL`): more replays would tell.
    NotSettled,
    /// Failed in every run: a real bug, not a flake.
    AlwaysFailing,
    /// Its failing test order fails again and the file order passes: other tests that run
    /// first decide (see `order_dependence`).
    OrderDependent,
    /// Hung: still running at the timeout (a test case), or a failing seed hung again on
    /// replay (the command).
    Timeout,
    /// Every run failed before any test ran: the runner could not load the tests.
    CollectionError,
    /// Every run failed before any test ran: a module or package the tests import is
    /// missing.
    MissingDependency,
    /// Every run failed before any test ran: the runner refused its command line or
    /// configuration (an unknown option, often one a missing plugin would add).
    UsageError,
}

/// Runs whose command failed for a reason beyond their test cases (a coverage gate, a
/// collection error, a plugin, a crash after the tests), and that reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandFailure {
    /// Runs whose command failed this way (with or without a failing test beside it).
    pub runs: u32,
    pub kind: FailureKind,
    /// The line that says why, cut to `max_error_length`.
    pub cause: String,
}

/// Figures for one test case across the runs (per-test attribution from JUnit and the like).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCaseStats {
    /// `classname::name` (or the runner's own full name).
    pub name: String,
    pub runs: u32,
    pub failures: u32,
    pub failure_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub failing_seeds: Vec<u64>,
    pub verdict: Verdict,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// First line of its first failure message, cut to `max_error_length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// Set when the interval spans more than one severity band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_note: Option<String>,
    /// The runner's scope for the case (a JUnit `classname`), which `name` starts with; kept
    /// so that the JUnit written from a summary names the case as the runner's own does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    /// The runs (`results[].attempt`) in which it failed, in order: each is one attempt of
    /// the JUnit report, which `failing_seeds` cannot tell apart when a seed is replayed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_attempts: Vec<u32>,
    /// Mean of the runner's own times for the case, in seconds, over the runs whose report
    /// gave one (JUnit's `time`): the JUnit report's `time` of the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_seconds: Option<f64>,
}

/// How the tests that ran before an order-dependent test decide whether it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderRole {
    /// It passes alone and fails when `tests` run first (they leave state behind).
    Polluter,
    /// It fails alone and passes only when `tests` run first (they set state up): a
    /// brittle test, failing whenever the order leaves them out.
    StateSetter,
}

/// One order-dependent test and the tests that decide its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFinding {
    /// The order-dependent test, as named in `tests[]`.
    pub test: String,
    pub role: OrderRole,
    /// The polluters or state-setters found; empty when the search could not narrow the
    /// tests that ran first down (then `sentence` says so).
    pub tests: Vec<String>,
    /// "`test_b` fails when `test_a` runs first", or "… fails when run without `test_s`".
    pub sentence: String,
    /// A command that runs just those tests in the failing order (it fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
    /// Runs the search took.
    pub search_runs: u32,
}

/// What the confirmation phase replayed and what happened: the evidence behind
/// `classification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmationReport {
    /// Failing seeds replayed.
    pub seeds: Vec<u64>,
    /// Replays with nothing else running, and how many of them failed.
    pub alone_runs: u32,
    pub alone_failures: u32,
    /// Replays among other runs at the job's parallelism, and how many of them failed.
    pub load_runs: u32,
    pub load_failures: u32,
    /// Most replays (alone and under load) the job allowed; the phase stops earlier once
    /// more replays cannot change any class.
    #[serde(default)]
    pub budget: u32,
}

/// What kind of non-test failure a run shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// A coverage threshold was not met (`--cov-fail-under`, Jest or Vitest thresholds).
    CoverageGate,
    /// The runner could not load the tests (`ERROR collecting`, `Test suite failed to run`,
    /// a build failure).
    CollectionError,
    /// A module or package the tests import is not installed.
    MissingDependency,
    /// The runner refused its command line or config: an unknown option (often one a
    /// plugin that is not installed would add), a plugin that cannot be loaded.
    UsageError,
    /// Anything else: a plugin failure, a crash after the tests.
    Other,
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::CoverageGate => "coverage gate",
            FailureKind::CollectionError => "collection error",
            FailureKind::MissingDependency => "missing dependency",
            FailureKind::UsageError => "usage error",
            FailureKind::Other => "command failure",
        }
    }
}

//! The output schema ([`Summary`]): the seed project's fields first, then ours. Built from run
//! records by [`Summary::build`]; the same shape comes back from RunPod, `serve` and the CLI.

pub mod merge;
pub mod order;

pub use order::{OrderFinding, OrderRole};

use serde::{Deserialize, Serialize};

use crate::analysis::{Severity, Verdict, stats};
use crate::config::{Settings, Thresholds};
use crate::framework::seed::with_seed_args;
use crate::framework::{Framework, InstallReport, seed::seed_env};
use crate::job::JobMeta;
use crate::runner::{RunOutcome, RunRecord};

/// Total bytes of run output a summary may carry, so a 1000-run job stays far below RunPod's
/// 20 MB result limit; each failing run gets an equal share, up to the capture limit.
pub const OUTPUT_BUDGET: usize = 4 * 1024 * 1024;

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
    /// Failed in every run: a real bug, not a flake.
    AlwaysFailing,
    /// Its failing test order fails again and the file order passes: other tests that run
    /// first decide (see `order_dependence`).
    OrderDependent,
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
    /// True when the job was stopped before all runs finished; the figures cover the runs
    /// that did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    pub duration_seconds: f64,
}

/// Everything about a job that is not a run record.
pub struct JobFacts<'a> {
    pub settings: &'a Settings,
    pub framework: Framework,
    pub install: InstallReport,
    pub repo: String,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub meta: &'a JobMeta,
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub duration_seconds: f64,
}

impl Summary {
    pub fn build(facts: JobFacts<'_>, records: Vec<RunRecord>) -> Summary {
        let settings = facts.settings;
        let runs = records.len() as u32;
        let failures = records.iter().filter(|r| !r.outcome.passed()).count() as u32;
        let timeouts = records
            .iter()
            .filter(|r| r.outcome == RunOutcome::TimedOut)
            .count() as u32;
        let rate = if runs == 0 {
            0.0
        } else {
            f64::from(failures) / f64::from(runs)
        };
        let interval = stats::wilson(failures, runs);
        let failing_seeds: Vec<u64> = records
            .iter()
            .filter(|r| !r.outcome.passed())
            .map(|r| r.seed)
            .collect();
        let reproduce = failing_seeds
            .first()
            .map(|seed| reproduce_line(facts.framework, *seed, facts.env, &settings.argv));
        let share = if failures == 0 {
            settings.output_limit_bytes
        } else {
            (OUTPUT_BUDGET / (2 * failures as usize)).min(settings.output_limit_bytes)
        };
        let results = records.into_iter().map(|r| result(r, share)).collect();
        Summary {
            total_runs: runs,
            parallelism: settings.parallelism,
            framework: facts.framework,
            failures,
            repro_rate: stats::round3(rate),
            results,
            verdict: Verdict::of(failures, runs),
            severity: Severity::of(rate, &settings.thresholds),
            ci_low: stats::round3(interval.low),
            ci_high: stats::round3(interval.high),
            runs_requested: settings.runs,
            runs_saved: 0,
            timeouts,
            failing_seeds,
            tests: Vec::new(),
            classification: None,
            severity_note: None,
            first_error: None,
            confirmation: None,
            order_dependence: Vec::new(),
            reproduce,
            runs_needed: stats::runs_needed(settings.thresholds.low),
            thresholds: Some(settings.thresholds),
            install: facts.install,
            repo: facts.repo,
            git_ref: facts.git_ref,
            commit: facts.commit,
            test_command: settings.command_line.clone(),
            pr_number: facts.meta.pr_number,
            branch: facts.meta.branch.clone(),
            commit_sha: facts.meta.commit_sha.clone(),
            warnings: facts.warnings,
            cancelled: false,
            temp_dir: None,
            run_id: None,
            duration_seconds: stats::round3(facts.duration_seconds),
        }
    }
}

fn result(record: RunRecord, share: usize) -> RunResult {
    let stdout = record.stdout.tail(share);
    let stderr = record.stderr.tail(share);
    RunResult {
        attempt: record.attempt,
        exit_code: record.outcome.exit_code(),
        passed: record.outcome.passed(),
        seed: record.seed,
        duration_ms: record.duration.as_millis() as u64,
        timed_out: record.outcome == RunOutcome::TimedOut,
        signal: match record.outcome {
            RunOutcome::Signalled { signal } => Some(signal),
            _ => None,
        },
        output_truncated_bytes: stdout.truncated_bytes + stderr.truncated_bytes,
        stdout: stdout.text,
        stderr: stderr.text,
    }
}

/// `VAR=value … command [seed option]`, shell-quoted, with the same seed variables, job `env`
/// and runner seed option the run had, so pasting it into a checkout replays the run.
pub fn reproduce_line(
    framework: Framework,
    seed: u64,
    env: &std::collections::BTreeMap<String, String>,
    argv: &[String],
) -> String {
    let quote =
        |word: &str| shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned());
    let assignments = seed_env(framework, seed)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .chain(env.iter().map(|(k, v)| (k.clone(), v.clone())))
        .map(|(name, value)| format!("{name}={}", quote(&value)));
    assignments
        .chain(with_seed_args(argv, seed).iter().map(|word| quote(word)))
        .collect::<Vec<_>>()
        .join(" ")
}

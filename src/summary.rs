//! The output schema ([`Summary`]): the seed project's fields first, then ours. Built from run
//! records by [`Summary::build`], then given the assessment's [`Conclusion`] by
//! [`Summary::apply`]; the same shape comes back from RunPod, `serve` and the CLI.

pub mod merge;
pub mod triage;
pub mod wording;

pub use crate::analysis::findings::{
    Classification, CommandFailure, ConfirmationReport, OrderFinding, OrderRole, TestCaseStats,
};

use serde::{Deserialize, Serialize};

use crate::analysis::assess::Conclusion;
use crate::analysis::{Severity, Verdict, stats};
use crate::config::{Settings, Thresholds};
use crate::framework::seed::with_seed_args;
use crate::framework::{Framework, InstallReport, seed::seed_env};
use crate::job::JobMeta;
use crate::process::capture::finished_run_keep;
use crate::runner::{RunOutcome, RunRecord};
use crate::secrets::looks_secret;

/// Total bytes of run output a summary may carry; each run with output gets an equal share.
pub use crate::process::capture::OUTPUT_BUDGET;

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
    pub isolation_mechanism: Option<crate::runner::isolation::Mechanism>,
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
    pub triage: Option<triage::TriageReport>,
    pub duration_seconds: f64,
    /// The JUnit report of the job (`report::junit`), when its input asked for it with
    /// `junit: true`: a worker's caller has no file of ours to read, so it comes back here.
    /// Set after the job is recorded, so history never stores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit_xml: Option<String>,
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
        let with_output = records.iter().filter(|r| r.has_output()).count();
        let share = finished_run_keep(with_output).min(settings.output_limit_bytes);
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
            isolation_mechanism: None,
            timeouts,
            failing_seeds,
            tests: Vec::new(),
            classification: None,
            severity_note: None,
            first_error: None,
            confirmation: None,
            command_failure: None,
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
            quarantined: Vec::new(),
            cancelled: false,
            temp_dir: None,
            build_once: None,
            run_id: None,
            triage: None,
            duration_seconds: stats::round3(facts.duration_seconds),
            junit_xml: None,
        }
    }

    /// The job's rate, interval, verdict and severity, as one assessment computed them.
    pub(crate) fn set_figures(&mut self, figures: crate::analysis::per_test::Figures) {
        self.repro_rate = figures.rate;
        self.ci_low = figures.ci_low;
        self.ci_high = figures.ci_high;
        self.verdict = figures.verdict;
        self.severity = figures.severity;
        self.severity_note = figures.severity_note;
    }

    /// Shapes the summary of a job stopped by a failed install after its one probe run
    /// failed too: verdict `install-failed` and no severity (no flakiness was measured), no
    /// failing seeds or reproduce line (replaying a seed meets the same install), the
    /// install's sentence as `first_error`, and what the probe met kept in
    /// `install.probe_error`. Only the classes that say the tests could not start are kept.
    pub fn mark_install_failed(&mut self) {
        if self.install.probe_error.is_none() {
            self.install.probe_error = self.first_error.take();
        }
        self.first_error = self.install.failure_sentence().or(self.first_error.take());
        self.verdict = Verdict::InstallFailed;
        self.severity = Severity::None;
        self.severity_note = None;
        self.failing_seeds.clear();
        self.reproduce = None;
        self.confirmation = None;
        self.tests.clear();
        self.classification = self.classification.filter(|c| {
            matches!(
                c,
                Classification::MissingDependency
                    | Classification::CollectionError
                    | Classification::UsageError
            )
        });
    }

    /// Fills what the assessment of the runs decides: figures over the runs that count as
    /// failed, per-test stats, classification, notes, and the reproduce line (`reproduce`
    /// makes one for a seed).
    pub fn apply(&mut self, conclusion: Conclusion, reproduce: impl Fn(u64) -> String) {
        let Conclusion {
            failures,
            figures,
            failing_seeds,
            tests,
            classification,
            first_error,
            confirmation,
            command_failure,
            warnings,
        } = conclusion;
        self.failures = failures;
        self.set_figures(figures);
        self.reproduce = failing_seeds.first().map(|seed| reproduce(*seed));
        self.failing_seeds = failing_seeds;
        self.tests = tests;
        self.classification = classification;
        self.first_error = first_error;
        self.confirmation = confirmation;
        self.command_failure = command_failure;
        self.warnings.extend(warnings);
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
/// The line is stored in history and posted to reports, so a job `env` value that looks
/// secret ([`looks_secret`]) is written `NAME=***`: the user fills it in from their own.
pub fn reproduce_line(
    framework: Framework,
    seed: u64,
    env: &std::collections::BTreeMap<String, String>,
    argv: &[String],
) -> String {
    let quote =
        |word: &str| shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned());
    // A variable of `env` replaces the seed's own (a fork server's real PYTHONHASHSEED).
    let assignments = seed_env(framework, seed)
        .into_iter()
        .filter(|(name, _)| !env.contains_key(*name))
        .map(|(name, value)| (name.to_string(), value))
        .map(|(name, value)| format!("{name}={}", quote(&value)))
        .chain(env.iter().map(|(name, value)| {
            if looks_secret(name, value) {
                format!("{name}=***")
            } else {
                format!("{name}={}", quote(value))
            }
        }));
    assignments
        .chain(with_seed_args(argv, seed).iter().map(|word| quote(word)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12, finding 9: secrets given in a job's `env` were stored in the reproduce line.
    #[test]
    fn issue_12_finding_9_secret_env_values_are_masked_in_the_reproduce_line() {
        let env: std::collections::BTreeMap<String, String> = [
            ("DATABASE_URL", "postgres://app:hunter2@db/app"),
            ("GH_PAT", "short"),
            ("API_TOKEN", "abc"),
            ("SENTRY_DSN", "x"),
            ("OPAQUE", "q8Zr2LmX0vTq7wPn4KsY1"),
            ("FEATURE_FLAG", "on"),
            ("PYTHONPATH", "src"),
            ("PID_FILE", "/tmp/.tmpA1b2C3d4/grandchild.pid"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let line = reproduce_line(Framework::Unknown, 7, &env, &["make".into(), "test".into()]);
        for secret in ["hunter2", "short", "abc", "q8Zr2LmX0vTq7wPn4KsY1"] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
        for masked in [
            "DATABASE_URL=***",
            "GH_PAT=***",
            "API_TOKEN=***",
            "SENTRY_DSN=***",
        ] {
            assert!(line.contains(masked), "{masked} not in {line}");
        }
        assert!(
            line.contains("FEATURE_FLAG=on") && line.contains("PYTHONPATH=src"),
            "{line}"
        );
        assert!(line.ends_with("make test"), "{line}");
    }

    /// A job `env` variable named like one of the worker's secrets (a webhook, RunPod's
    /// own) is masked too, now that both share one list.
    #[test]
    fn worker_secret_names_are_masked_in_the_reproduce_line() {
        let env: std::collections::BTreeMap<String, String> =
            [("TEAM_WEBHOOK", "hook"), ("RUNPOD_ENDPOINT_ID", "ep1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let line = reproduce_line(Framework::Unknown, 7, &env, &["make".into()]);
        assert!(line.contains("TEAM_WEBHOOK=***"), "{line}");
        assert!(line.contains("RUNPOD_ENDPOINT_ID=***"), "{line}");
    }
}

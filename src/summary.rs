//! The output schema ([`Summary`]): the seed project's fields first, then ours. Built from run
//! records by [`Summary::build`], then given the assessment's [`Conclusion`] by
//! [`Summary::apply`]; the same shape comes back from RunPod, `serve` and the CLI.

pub mod merge;
pub mod triage;
pub mod wording;

pub use crate::analysis::findings::{
    Classification, CommandFailure, ConfirmationReport, OrderFinding, OrderRole, TestCaseStats,
};

use crate::analysis::assess::Conclusion;
use crate::analysis::{Severity, Verdict, stats};
use crate::config::Settings;
use crate::framework::seed::with_seed_args;
use crate::framework::{Framework, InstallReport, seed::seed_env};
use crate::job::JobMeta;
use crate::process::capture::finished_run_keep;
use crate::runner::{RunOutcome, RunRecord};
use crate::secrets::looks_secret;

/// Total bytes of run output a summary may carry; each run with output gets an equal share.
pub use crate::process::capture::OUTPUT_BUDGET;
pub use crate::wire::summary::{RunResult, Summary};

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

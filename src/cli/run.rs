//! `flaky-detector run`: one job from command-line flags, a progress bar, then the summary
//! (human or JSON) and an exit status.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::error::{CliError, Ended};
use super::history::{DbArg, store_for_jobs};
use super::job_flags::JobFlags;
use crate::analysis::{Severity, Verdict};
use crate::detect::{Deps, detect};
use crate::events::Events;
use crate::job::{JobInput, RepoPolicy};
use crate::summary::Summary;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Repository: an https:// or git@host:path URL, or a local directory (copied first).
    #[arg(long)]
    pub repo: String,
    #[command(flatten)]
    pub job: JobFlags,
    /// Seconds per run before its whole process group is killed [default: 300].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary JSON to this file.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also write a JUnit XML report to this file: one testcase per test with every run as
    /// an attempt (Maven Surefire's flakyFailure / rerunFailure), for CI's test reports.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Exit with status 3 when the severity reaches this level (or, for a triage, when a
    /// verdict is `regression`).
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub history: DbArg,
}

/// The severity from which a finished job makes the process exit non-zero, or for a
/// triage, `regression`: a failing test the change broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
    /// A triage verdict `regression` (the other levels read the head side's severity).
    Regression,
    Never,
}

impl FailOn {
    /// True when `severity` reaches this level.
    pub fn trips(self, severity: Severity) -> bool {
        let level = match self {
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
            FailOn::Regression | FailOn::Never => return false,
        };
        severity >= level
    }
}

impl RunArgs {
    fn into_input(self) -> JobInput {
        self.job.into_input(self.repo, self.timeout)
    }
}

/// Runs the job, with a progress bar, and prints its summary.
pub async fn run(args: RunArgs, deps: &Deps) -> Result<Ended, CliError> {
    run_with(args, deps, |_| {}).await
}

/// [`run`], with `adjust` given the job input before it is checked: `triage` adds its part.
pub(crate) async fn run_with(
    args: RunArgs,
    deps: &Deps,
    adjust: impl FnOnce(&mut JobInput),
) -> Result<Ended, CliError> {
    let json = args.json;
    let output = args.output.clone();
    let junit = args.junit.clone();
    let fail_on = args.fail_on;
    let history = args.history.clone();
    let mut input = args.into_input();
    adjust(&mut input);
    let job = input.validate(RepoPolicy { allow_local: true })?;
    let deps = &Deps {
        history: store_for_jobs(&history)?,
        ..deps.clone()
    };
    let summary = detect_with_progress(job, deps).await?;
    emit(&summary, json, output.as_deref())?;
    if let Some(path) = &junit {
        write_junit(&summary, path)?;
    }
    Ok(outcome(&summary, fail_on))
}

/// Runs `job` with the terminal's progress bar, stopped by Ctrl-C or SIGTERM (the finished
/// runs are still summarised).
pub(crate) async fn detect_with_progress(
    job: crate::job::Job,
    deps: &Deps,
) -> Result<Summary, crate::detect::DetectError> {
    let cancel = super::cancel_on_signals();
    let (events, receiver) = Events::channel();
    let bar = super::progress::spawn(receiver);
    let result = detect(job, deps, &events, &cancel).await;
    drop(events);
    let _ = bar.await;
    result
}

/// Writes `--junit`. Called after the summary is shown and `--output` written, so a path
/// that cannot be written loses nothing else of the job.
pub(crate) fn write_junit(summary: &Summary, path: &std::path::Path) -> Result<(), CliError> {
    std::fs::write(path, crate::report::junit::render(summary)).map_err(|source| {
        CliError::WriteJunit {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// How a job that ran ends: interrupted, stopped by a failed install (exit 1, as a job that
/// cannot run), over `--fail-on`, or done.
pub(crate) fn outcome(summary: &Summary, fail_on: FailOn) -> Ended {
    if summary.cancelled {
        Ended::Interrupted
    } else if summary.verdict == Verdict::InstallFailed {
        Ended::CouldNotRun
    } else if fail_on.trips(summary.severity) || fail_on.trips_triage(summary) {
        Ended::SeverityReached
    } else {
        Ended::Done
    }
}

impl FailOn {
    /// True for `regression` when the summary's triage found one.
    pub fn trips_triage(self, summary: &Summary) -> bool {
        self == FailOn::Regression && summary.triage.as_ref().is_some_and(|t| t.has_regression())
    }
}

/// Prints the summary (JSON or human) and writes `--output`.
pub(crate) fn emit(
    summary: &Summary,
    json: bool,
    output: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(summary).map_err(|source| CliError::Encode {
        what: "summary",
        source,
    })?;
    if let Some(path) = output {
        std::fs::write(path, format!("{text}\n")).map_err(|source| CliError::WriteFile {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let shown = if json {
        format!("{text}\n")
    } else {
        super::human::render(summary)
    };
    // A reader that went away (`run --json | head`) is not an error of the job.
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, shown.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Stdout {
            what: "summary",
            source: e,
        }),
        _ => Ok(()),
    }
}

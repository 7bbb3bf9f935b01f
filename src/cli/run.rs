//! `flaky-detector run`: one job from command-line flags, a progress bar, then the summary
//! (human or JSON) and an exit status.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use super::history::{DbArg, store_for_jobs};
use super::job_flags::JobFlags;
use crate::analysis::Severity;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
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
    /// Exit with status 3 when the severity reaches this level.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub history: DbArg,
}

/// The severity from which a finished job makes the process exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
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
            FailOn::Never => return false,
        };
        severity >= level
    }
}

impl RunArgs {
    fn into_input(self) -> JobInput {
        self.job.into_input(self.repo, self.timeout)
    }
}

/// Runs the job and returns the process exit status.
pub async fn run(args: RunArgs, deps: &Deps) -> i32 {
    let json = args.json;
    let output = args.output.clone();
    let fail_on = args.fail_on;
    let history = args.history.clone();
    let job = match args.into_input().validate(RepoPolicy { allow_local: true }) {
        Ok(job) => job,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            return exit::JOB_ERROR;
        }
    };
    let mut deps = deps.clone();
    match store_for_jobs(&history) {
        Ok(store) => deps.history = store,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::JOB_ERROR;
        }
    }
    let deps = &deps;
    let cancel = super::cancel_on_signals();
    let (events, receiver) = Events::channel();
    let bar = super::progress::spawn(receiver);
    let result = detect(job, deps, &events, &cancel).await;
    drop(events);
    let _ = bar.await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            return error.exit_code();
        }
    };
    if let Err(code) = emit(&summary, json, output.as_deref()) {
        return code;
    }
    if summary.cancelled {
        exit::INTERRUPTED
    } else if fail_on.trips(summary.severity) {
        exit::SEVERITY
    } else {
        exit::OK
    }
}

/// Prints the summary (JSON or human) and writes `--output`.
pub(crate) fn emit(
    summary: &Summary,
    json: bool,
    output: Option<&std::path::Path>,
) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(summary).map_err(|e| {
        eprintln!("error: cannot encode the summary: {e}");
        exit::JOB_ERROR
    })?;
    if let Some(path) = output {
        std::fs::write(path, format!("{text}\n")).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit::JOB_ERROR
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
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the summary: {e}");
            Err(exit::JOB_ERROR)
        }
        _ => Ok(()),
    }
}

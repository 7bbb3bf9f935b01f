//! `flaky-detector triage`: a red pull request's failing tests (`--junit` of the red run, or
//! `--test`) rerun at its head (`--ref`) and its base (`--base`, default the merge base),
//! and a verdict for each: regression, flaky before this change, new flake, could not
//! reproduce, broken at base too. The job is the same as a job input's `triage`.

use std::path::PathBuf;

use clap::Args;

use super::error::{CliError, FileError, Outcome};
use super::history::{DbArg, store_for_jobs};
use super::job_flags::JobFlags;
use super::run::{FailOn, emit, outcome};
use crate::detect::{Deps, detect};
use crate::events::Events;
use crate::job::{MAX_RUNS, RepoPolicy, TriageRequest};

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Repository: an https:// or git@host:path URL, or a local directory.
    #[arg(long)]
    pub repo: String,
    /// The base to compare with [default: the merge base of --ref and the default branch].
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The JUnit XML report of the red CI run: its failed test cases are triaged.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Most runs on each side; each verdict stops as soon as it is settled [default: 60].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RUNS)))]
    pub max_runs: Option<u32>,
    #[command(flatten)]
    pub job: JobFlags,
    /// Seconds per run before its whole process group is killed [default: 300].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Print the summary (with its `triage` verdicts) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary JSON to this file (for `flaky-detector report`).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Exit with status 3 when a verdict is `regression` (the pull request broke a test), or
    /// when the head side's severity reaches a level.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub history: DbArg,
}

/// Runs the triage job and prints its summary.
pub async fn run(args: TriageArgs, deps: &Deps) -> Result<Outcome, CliError> {
    let junit = match &args.junit {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|source| {
            CliError::File(FileError::Read {
                path: path.clone(),
                source,
            })
        })?),
        None => None,
    };
    let mut input = args.job.into_input(args.repo, args.timeout);
    input.triage = Some(TriageRequest {
        base_ref: args.base,
        junit,
        max_runs: args.max_runs,
    });
    let job = input.validate(RepoPolicy { allow_local: true })?;
    let deps = &Deps {
        history: store_for_jobs(&args.history)?,
        ..deps.clone()
    };
    let cancel = super::cancel_on_signals();
    let (events, receiver) = Events::channel();
    let bar = super::progress::spawn(receiver);
    let result = detect(job, deps, &events, &cancel).await;
    drop(events);
    let _ = bar.await;
    let summary = result?;
    emit(&summary, args.json, args.output.as_deref())?;
    Ok(outcome(&summary, args.fail_on))
}

//! `flaky-detector triage`: a red pull request's failing tests (`--from-junit` of the red run,
//! or `--test`) rerun at its head (`--ref`) and its base (`--base`, default the merge base),
//! and a verdict for each: regression, flaky before this change, new flake, could not
//! reproduce, broken at base too. The job is the same as a job input's `triage`.

use std::path::PathBuf;

use clap::Args;

use super::error::{CliError, Ended};
use super::report::read_text;
use super::run::{RunArgs, run_with};
use crate::detect::Deps;
use crate::job::{MAX_RUNS, TriageRequest};

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The run's flags: `--ref` is the head, `--test` names failing tests, `--fail-on
    /// regression` makes a regression exit 3.
    #[command(flatten)]
    pub run: RunArgs,
    /// The base to compare with [default: the merge base of --ref and the default branch].
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// The JUnit XML report of the red CI run: its failed test cases are triaged (`--junit`
    /// writes this job's own report, as for `run`).
    #[arg(long, value_name = "FILE")]
    pub from_junit: Option<PathBuf>,
    /// Most runs on each side; each verdict stops as soon as it is settled [default: 60].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RUNS)))]
    pub max_runs: Option<u32>,
}

/// Runs the triage job and prints its summary, as `run` does.
pub async fn run(args: TriageArgs, deps: &Deps) -> Result<Ended, CliError> {
    let junit = args
        .from_junit
        .as_deref()
        .map(read_text)
        .transpose()
        .map_err(CliError::File)?;
    let triage = TriageRequest {
        base_ref: args.base,
        junit,
        max_runs: args.max_runs,
    };
    run_with(args.run, deps, |input| input.triage = Some(triage)).await
}

//! The `flaky-detector` binary: parses the command line and hands over to a front end.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flaky_detector::Deps;
use flaky_detector::cli;
use flaky_detector::cli::error::{CliError, Ended};
use flaky_detector::cli::serve::{self, ServeArgs};
use flaky_detector::cli::worker::{self, WorkerArgs};
use flaky_detector::history::HistoryError;

const EXIT_CODES: &str = "\
Exit status:
  0    the job ran (and stayed below --fail-on)
  1    the job could not run (bad input, clone failure, missing command, or
       its dependencies did not install: verdict install-failed)
  2    command-line usage error
  3    the job ran and its severity reached --fail-on
  130  interrupted (Ctrl-C or SIGTERM); finished runs are still reported

Without a subcommand, runs one job the way RunPod's local test does: from
--test_input '<json>', else from ./test_input.json. Without a subcommand and
--test_input, with RUNPOD_WEBHOOK_GET_JOB set (on RunPod), runs the worker.";

#[derive(Debug, Parser)]
#[command(name = "flaky-detector", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Run the job in this JSON document ({"input": {...}}) and print the result JSON.
    #[arg(long = "test_input", value_name = "JSON")]
    test_input: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a test command many times with a seed per run and report whether it is flaky.
    Run(cli::run::RunArgs),
    /// Triage a red pull request: rerun its failing tests at head and at base, the same
    /// seeds on both sides, and say for each whether the change broke it or it was flaky.
    Triage(cli::triage::TriageArgs),
    /// Recent jobs, the flakiest tests and the daily trend from the history database.
    History(cli::history::HistoryArgs),
    /// Serve the history dashboard on a local port.
    Dashboard(cli::dashboard::DashboardArgs),
    /// Write .flaky-detector/quarantine.yml from history (flaky tests that may fail without
    /// blocking), or print a runner's way to apply it (--apply-args).
    Quarantine(cli::quarantine::QuarantineArgs),
    /// Run one test alone for exactly the clean runs that earn `fixed` (stopping at its
    /// first failure), record them and update the quarantine file.
    VerifyFix(Box<cli::verify_fix::VerifyFixArgs>),
    /// Send a job to a RunPod endpoint (or a `serve`), optionally split into shards, and
    /// report its summary.
    Submit(Box<cli::submit::SubmitArgs>),
    /// Send a summary file to the pull request, Slack, Discord or the step summary.
    Report(cli::report::ReportArgs),
    /// Run as a RunPod serverless worker (the RUNPOD_* environment names the platform).
    Worker(WorkerArgs),
    /// Serve RunPod's endpoint API (/run, /runsync, /status, ...) on a local port.
    Serve(ServeArgs),
}

/// Prints a subcommand's error once, on one line, and exits with the status its outcome or
/// error names (the table in `--help`).
fn main() -> ExitCode {
    // First, while there is one thread, and before the init forks so that it is sealed too:
    // runs must not read this process's secrets through /proc (docs/security.md).
    let _ = flaky_detector::process::seal::seal();
    // Before the runtime's threads exist: as PID 1 the process forks into init + detector.
    cli::init::supervise_if_pid1();
    // Still before the runtime: no run may unmount its overlay, even as root.
    let _ = flaky_detector::process::seal::confine_runs();
    let result = match tokio::runtime::Runtime::new() {
        Ok(runtime) => {
            let result = runtime.block_on(run());
            // Like the `exit` this replaces, leave at once: a blocking task still running
            // (a clone, a database write given up on) must not hold the process.
            runtime.shutdown_background();
            result
        }
        Err(error) => Err(CliError::Runtime(error)),
    };
    let code = match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("{}", error.message());
            error.exit_code()
        }
    };
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}

async fn run() -> Result<Ended, CliError> {
    let mut cli = Cli::parse();
    if let Some(command) = &mut cli.command {
        read_secret_files(command)?;
    }
    let on_runpod = std::env::var_os("RUNPOD_WEBHOOK_GET_JOB").is_some_and(|v| !v.is_empty());
    match cli.command {
        // The worker and the server set up their own logging (RunPod's JSON lines).
        Some(Command::Worker(args)) => {
            let deps = with_history(&args.db)?;
            worker::run_worker(args, deps).await?;
        }
        Some(Command::Serve(args)) => {
            serve::check_bind(&args)?;
            let deps = with_history(&args.db)?;
            serve::run_serve(args, deps).await?;
        }
        None if on_runpod && cli.test_input.is_none() => {
            let mut args = WorkerArgs::parse_from(["worker"]);
            args.db.read_db_file()?;
            let deps = with_history(&args.db)?;
            worker::run_worker(args, deps).await?;
        }
        Some(Command::Run(args)) => {
            init_logging();
            return cli::run::run(args, &Deps::from_env()).await;
        }
        Some(Command::Triage(args)) => {
            init_logging();
            return cli::triage::run(args, &Deps::from_env()).await;
        }
        Some(Command::Submit(args)) => {
            init_logging();
            return cli::submit::run(*args).await;
        }
        Some(Command::Report(args)) => {
            init_logging();
            return cli::report::run(args).await;
        }
        Some(Command::History(args)) => {
            init_logging();
            cli::history::run(args)?;
        }
        Some(Command::Dashboard(args)) => {
            init_logging();
            cli::dashboard::run(args).await?;
        }
        Some(Command::Quarantine(args)) => {
            init_logging();
            cli::quarantine::run(args)?;
        }
        Some(Command::VerifyFix(args)) => {
            init_logging();
            return cli::verify_fix::run(*args, &Deps::from_env()).await;
        }
        None => {
            init_logging();
            // Local test mode has no --db: FLAKY_DB or the default path.
            let mut db = cli::history::DbArg {
                db: std::env::var_os("FLAKY_DB")
                    .filter(|v| !v.is_empty())
                    .map(Into::into),
                db_file: std::env::var_os("FLAKY_DB_FILE")
                    .filter(|v| !v.is_empty())
                    .map(Into::into),
            };
            db.read_db_file()?;
            let deps = local_history(&db)?;
            cli::local_test::run(cli.test_input, &deps).await?;
        }
    }
    Ok(Ended::Done)
}

/// Reads the secrets given as files (`--api-key-file`, `--db-file` and their environment
/// variables) into the flags they stand for, once, before anything uses them.
fn read_secret_files(command: &mut Command) -> Result<(), CliError> {
    match command {
        Command::Run(args) => args.history.read_db_file(),
        Command::Triage(args) => args.run.history.read_db_file(),
        Command::History(args) => args.db.read_db_file(),
        Command::Dashboard(args) => args.db.read_db_file(),
        Command::Quarantine(args) => args.db.read_db_file(),
        Command::VerifyFix(args) => args.history.read_db_file(),
        Command::Submit(args) => args.read_secret_files(),
        Command::Worker(args) => args.db.read_db_file(),
        Command::Serve(args) => args.read_secret_files(),
        Command::Report(_) => Ok(()),
    }
}

/// The operator's dependencies with the history store of `db` (jobs are recorded before
/// they are reported), said in the worker's or server's log; an error when a database the
/// user named cannot be opened.
fn with_history(db: &cli::history::DbArg) -> Result<Deps, HistoryError> {
    let deps = local_history(db)?;
    announce(db);
    Ok(deps)
}

/// [`with_history`] without the log line, for the local test mode.
fn local_history(db: &cli::history::DbArg) -> Result<Deps, HistoryError> {
    Ok(Deps {
        history: cli::history::store_for_jobs(db)?,
        ..Deps::from_env()
    })
}

/// Says in the worker's or server's log which history store jobs go to.
fn announce(db: &cli::history::DbArg) {
    eprintln!("{}", db.describe());
}

/// Logs go to stderr; `RUST_LOG` picks the level (warnings only by default, so the summary
/// stands out).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

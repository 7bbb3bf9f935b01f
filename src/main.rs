//! The `flaky-detector` binary: parses the command line and hands over to a front end.

use clap::{Parser, Subcommand};
use flaky_detector::Deps;
use flaky_detector::cli;
use flaky_detector::runpod::commands::{self as runpod, ServeArgs, WorkerArgs};

const EXIT_CODES: &str = "\
Exit status:
  0    the job ran (and stayed below --fail-on)
  1    the job could not run (bad input, clone failure, missing command)
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
    /// Run as a RunPod serverless worker (the RUNPOD_* environment names the platform).
    Worker(WorkerArgs),
    /// Serve RunPod's endpoint API (/run, /runsync, /status, ...) on a local port.
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let deps = Deps::from_env();
    let on_runpod = std::env::var_os("RUNPOD_WEBHOOK_GET_JOB").is_some_and(|v| !v.is_empty());
    let code = match cli.command {
        // The worker and the server set up their own logging (RunPod's JSON lines).
        Some(Command::Worker(args)) => runpod::run_worker(args, deps).await,
        Some(Command::Serve(args)) => runpod::run_serve(args, deps).await,
        None if on_runpod && cli.test_input.is_none() => {
            runpod::run_worker(WorkerArgs::parse_from(["worker"]), deps).await
        }
        Some(Command::Run(args)) => {
            init_logging();
            cli::run::run(args, &deps).await
        }
        None => {
            init_logging();
            cli::local_test::run(cli.test_input, &deps).await
        }
    };
    std::process::exit(code);
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

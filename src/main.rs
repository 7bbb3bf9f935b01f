//! The `flaky-detector` binary: parses the command line and hands over to a front end.

use clap::{Parser, Subcommand};
use flaky_detector::Deps;
use flaky_detector::cli;

const EXIT_CODES: &str = "\
Exit status:
  0    the job ran (and stayed below --fail-on)
  1    the job could not run (bad input, clone failure, missing command)
  2    command-line usage error
  3    the job ran and its severity reached --fail-on
  130  interrupted (Ctrl-C or SIGTERM); finished runs are still reported

Without a subcommand, runs one job the way RunPod's local test does: from
--test_input '<json>', else from ./test_input.json.";

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
    /// Recent jobs, the flakiest tests and the daily trend from the history database.
    History(cli::history::HistoryArgs),
    /// Serve the history dashboard on a local port.
    Dashboard(cli::dashboard::DashboardArgs),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    init_logging();
    let mut deps = Deps::from_env();
    let code = match cli.command {
        Some(Command::Run(args)) => cli::run::run(args, &deps).await,
        Some(Command::History(args)) => cli::history::run(args),
        Some(Command::Dashboard(args)) => cli::dashboard::run(args).await,
        None => {
            // Local test mode has no --db: FLAKY_DB or the default path.
            let db = cli::history::DbArg {
                db: std::env::var_os("FLAKY_DB")
                    .filter(|v| !v.is_empty())
                    .map(Into::into),
            };
            match cli::history::store_for_jobs(&db) {
                Ok(store) => {
                    deps.history = store;
                    cli::local_test::run(cli.test_input, &deps).await
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    cli::exit::JOB_ERROR
                }
            }
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

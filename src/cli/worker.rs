//! The `worker` subcommand: its flags ([`WorkerArgs`]) and [`run_worker`], which turns them
//! into a [`WorkerConfig`], wires shutdown signals (also for `serve`), and runs the worker
//! until they fire.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::error::CliError;
use super::history::DbArg;
use super::seconds::parse_seconds;
use crate::config::policy::JobPolicy;
use crate::detect::Deps;
use crate::job::RepoPolicy;
use crate::runpod::worker::platform::Platform;
use crate::runpod::worker::post::PostPolicy;
use crate::runpod::worker::spool::Spool;
use crate::runpod::worker::stop::StopPacing;
use crate::runpod::worker::{Shutdown, TakeBackoff, WorkerConfig};

/// Flags of `flaky-detector worker`. The platform's URLs, key and pod id come from the
/// `RUNPOD_*` environment RunPod sets.
#[derive(Debug, Parser)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Jobs to run at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Seconds the jobs in progress may go on after SIGTERM before they are cancelled (a
    /// cancelled job still reports the runs that finished).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,
    /// Where results that job-done would not take wait to be re-posted [default: on the
    /// RunPod volume, else the XDG data dir].
    #[arg(long, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Seconds between retries of spooled results (they are also retried at start).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub spool_retry_interval: Duration,
    /// Seconds between retries of jobs that could not be recorded because the history
    /// database was down (they are also retried at start and after each recorded job);
    /// doubled per failed try, up to 10 minutes.
    #[arg(long, env = "FLAKY_HISTORY_RETRY_INTERVAL", value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub history_retry_interval: Duration,
    /// Accept local directory paths as `repo` (only for trusted job sources).
    #[arg(long, env = "FLAKY_ALLOW_LOCAL_REPOS", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_local_repos: bool,
    /// Seconds to wait before each retry of a result post that got a 5xx (comma-separated).
    #[arg(long, value_name = "SECONDS,...", value_delimiter = ',', default_value = "2,3", value_parser = parse_seconds)]
    pub post_retry_waits: Vec<Duration>,
    /// Seconds to wait at least after a 429 from job-take (up to half as much again is added
    /// at random).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub rate_limit_wait: Duration,
    /// Seconds to wait after a failed job-take; doubled per failure in a row, up to 30.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub error_backoff: Duration,
    /// Seconds between job-stop polls that found nothing.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds, hide = true)]
    pub stop_poll_pause: Duration,
}

/// The shortest pause between history retries, so a zero interval does not spin.
pub(super) const MIN_RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// Runs the worker until a shutdown signal; an error if it cannot start.
pub async fn run_worker(args: WorkerArgs, deps: Deps) -> Result<(), CliError> {
    crate::runpod::log::init("info");
    let deps = Deps {
        policy: JobPolicy::server_from_env(),
        ..deps
    };
    let platform = Platform::from_env()?;
    let config = WorkerConfig {
        concurrency: usize::from(args.concurrency),
        shutdown_grace: args.shutdown_grace,
        spool_dir: args.spool_dir.unwrap_or_else(Spool::default_dir),
        spool_retry_interval: args.spool_retry_interval.max(Duration::from_millis(100)),
        history_retry_interval: args.history_retry_interval.max(MIN_RETRY_INTERVAL),
        policy: RepoPolicy {
            allow_local: args.allow_local_repos,
        },
        retry: PostPolicy {
            retries: PostPolicy::retries(args.post_retry_waits),
            ..PostPolicy::default()
        },
        backoff: TakeBackoff {
            rate_limited: args.rate_limit_wait,
            error_base: args.error_backoff,
            ..TakeBackoff::default()
        },
        stop_pacing: StopPacing {
            after_empty: args.stop_poll_pause,
            after_error: args.stop_poll_pause.max(Duration::from_millis(100)),
            ..StopPacing::default()
        },
    };
    let shutdown = Shutdown::default();
    watch_signals(shutdown.clone());
    Ok(crate::runpod::worker::run(config, platform, deps, shutdown).await?)
}

/// First SIGTERM or Ctrl-C: drain. Second: stop now.
pub(super) fn watch_signals(shutdown: Shutdown) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            tracing::error!("cannot listen for SIGTERM; stop the process with SIGKILL");
            return;
        };
        for token in [&shutdown.drain, &shutdown.now] {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutdown signal received");
            token.cancel();
        }
    });
}

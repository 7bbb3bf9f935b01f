//! The `serve` subcommand: its flags ([`ServeArgs`]), the refusal of a keyless server on a
//! public address ([`check_bind`]), and [`run_serve`], which turns the flags into a
//! [`ServeConfig`] and runs the endpoint API until a shutdown signal.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;

use super::error::CliError;
use super::history::DbArg;
use super::seconds::parse_seconds;
use super::worker::{MIN_RETRY_INTERVAL, watch_signals};
use crate::config::policy::JobPolicy;
use crate::detect::Deps;
use crate::job::RepoPolicy;
use crate::runpod::serve::api::{ApiSettings, BODY_LIMIT};
use crate::runpod::serve::{ServeConfig, serve};
use crate::runpod::worker::Shutdown;

/// Flags of `flaky-detector serve`.
#[derive(Debug, Parser)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Require this key (`Authorization: Bearer <key>` or the bare key) on every route but
    /// /health.
    #[arg(long, env = "FLAKY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A file holding the key for --api-key, so it is not on the command line where `ps`
    /// shows it.
    #[arg(long, env = "FLAKY_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Jobs to run at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Jobs that may wait in the queue; /run answers 429 beyond.
    #[arg(long, default_value_t = 100)]
    pub max_queue: usize,
    /// Seconds a finished job stays queryable.
    #[arg(long, value_name = "SECONDS", default_value = "1800", value_parser = parse_seconds)]
    pub retention: Duration,
    /// Seconds a job may run when its request sets no `policy.executionTimeout`.
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = parse_seconds)]
    pub execution_timeout: Duration,
    /// Seconds /runsync waits for the result when the request has no `?wait=`.
    #[arg(long, value_name = "SECONDS", default_value = "90", value_parser = parse_seconds)]
    pub runsync_wait: Duration,
    /// Seconds between webhook attempts (3 attempts in all).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub webhook_retry_wait: Duration,
    /// Seconds between retries of jobs that could not be recorded because the history
    /// database was down (they are also retried at start and after each recorded job);
    /// doubled per failed try, up to 10 minutes.
    #[arg(long, env = "FLAKY_HISTORY_RETRY_INTERVAL", value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    pub history_retry_interval: Duration,
    /// Accept local directory paths as `repo` (only when every client is trusted).
    #[arg(long, env = "FLAKY_ALLOW_LOCAL_REPOS", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_local_repos: bool,
    /// Listen on a non-loopback --host without --api-key: anyone who reaches the port can
    /// run any command on this machine.
    #[arg(long)]
    pub allow_unauthenticated_remote: bool,
}

impl ServeArgs {
    /// Reads `--api-key-file` and `--db-file`; call once, before anything uses them.
    pub fn read_secret_files(&mut self) -> Result<(), CliError> {
        self.db.read_db_file()?;
        super::secret_file::from_file(
            &mut self.api_key,
            self.api_key_file.as_ref(),
            "--api-key",
            "the API key",
        )
    }
}

/// Refuses a keyless server on a non-loopback address unless the operator said so: anyone
/// who reaches it could run commands here. Checked before anything else is opened, so the
/// refusal is the only line printed (a usage error, exit status 2).
pub fn check_bind(args: &ServeArgs) -> Result<(), CliError> {
    let keyless = args.api_key.as_deref().is_none_or(str::is_empty);
    if keyless && !args.host.is_loopback() && !args.allow_unauthenticated_remote {
        return Err(CliError::KeylessRemote { host: args.host });
    }
    Ok(())
}

/// Runs the endpoint API until SIGTERM or Ctrl-C; an error if it cannot start.
pub async fn run_serve(args: ServeArgs, deps: Deps) -> Result<(), CliError> {
    crate::runpod::log::init("info");
    let deps = Deps {
        policy: JobPolicy::server_from_env(),
        ..deps
    };
    let config = ServeConfig {
        addr: SocketAddr::new(args.host, args.port),
        concurrency: usize::from(args.concurrency),
        max_queue: args.max_queue,
        retention: args.retention,
        webhook_retry_wait: args.webhook_retry_wait,
        history_retry_interval: args.history_retry_interval.max(MIN_RETRY_INTERVAL),
        api: ApiSettings {
            api_key: args
                .api_key
                .filter(|key| !key.is_empty())
                .map(SecretString::from),
            policy: RepoPolicy {
                allow_local: args.allow_local_repos,
            },
            execution_timeout: args.execution_timeout,
            runsync_wait: args.runsync_wait,
            body_limit: BODY_LIMIT,
            unauthenticated_remote: args.allow_unauthenticated_remote,
        },
    };
    let shutdown = Shutdown::default();
    watch_signals(shutdown.clone());
    Ok(serve(config, deps, shutdown.drain).await?)
}

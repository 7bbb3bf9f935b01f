//! The RunPod serverless worker ([`run`]): takes jobs from the job-take long poll, runs each
//! through [`handle`], keeps the heartbeat and the stop poll going, retries spooled results
//! and the history writes kept while the database was down, and on shutdown stops taking,
//! drains within the grace period, and returns.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub mod board;
pub mod handler;
pub mod ping;
pub mod platform;
pub mod post;
pub mod spool;
pub mod stop;
pub mod take;

use crate::detect::Deps;
use crate::history::retry_pending_every;
use crate::job::RepoPolicy;
use board::Board;
use handler::{HandlerContext, handle};
use platform::{Platform, PlatformError};
use post::PostPolicy;
use spool::{Spool, SpoolError};
use stop::StopPacing;
use take::{Take, take};

/// What the operator sets on the command line.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs at once (the SDK's concurrency, fixed here).
    pub concurrency: usize,
    /// How long running jobs may go on after a shutdown signal before they are cancelled.
    pub shutdown_grace: Duration,
    pub spool_dir: std::path::PathBuf,
    /// How often spooled results are retried (they are also retried at start).
    pub spool_retry_interval: Duration,
    /// How often jobs kept while the history database was down are retried (see
    /// [`crate::history::retry_pending_every`]).
    pub history_retry_interval: Duration,
    pub policy: RepoPolicy,
    pub retry: PostPolicy,
    pub backoff: TakeBackoff,
    pub stop_pacing: StopPacing,
}

/// Pauses of the take loop. Every wait gets jitter, so a fleet of workers does not hammer a
/// recovering platform in step.
#[derive(Debug, Clone)]
pub struct TakeBackoff {
    /// After a 429 (§2: 5 s).
    pub rate_limited: Duration,
    /// After the first failed take; doubles per consecutive failure up to `error_cap`.
    pub error_base: Duration,
    pub error_cap: Duration,
    /// After a 400 (FlashBoot): the SDK re-polls at once; a small floor keeps a platform
    /// that answers 400 instantly from being flooded.
    pub flash_boot: Duration,
    /// Bound on one long poll (§2: 90 s).
    pub take_timeout: Duration,
}

impl Default for TakeBackoff {
    fn default() -> Self {
        TakeBackoff {
            rate_limited: Duration::from_secs(5),
            error_base: Duration::from_secs(1),
            error_cap: Duration::from_secs(30),
            flash_boot: Duration::from_millis(200),
            take_timeout: Duration::from_secs(90),
        }
    }
}

/// Why the worker could not start. Once it runs, nothing ends it but a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// Shutdown as the worker sees it: `drain` stops taking jobs and starts the grace period;
/// `now` ends the grace at once (a second signal).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub drain: CancellationToken,
    pub now: CancellationToken,
}

/// Runs the worker until `shutdown.drain` fires and the jobs in progress are done.
pub async fn run(
    config: WorkerConfig,
    platform: Platform,
    deps: Deps,
    shutdown: Shutdown,
) -> Result<(), WorkerError> {
    let platform = Arc::new(platform);
    let client = platform.client()?;
    let spool = Spool::open(&config.spool_dir)?;
    let board = Board::default();
    let background = CancellationToken::new();
    tracing::info!(
        worker_id = %platform.worker_id,
        concurrency = config.concurrency,
        spool = %spool.dir().display(),
        "worker started"
    );

    let heartbeat = ping::spawn(platform.clone(), board.clone(), background.clone());
    let tasks = TaskTracker::new();
    tasks.spawn(retry_spool(
        spool.clone(),
        client.clone(),
        config.retry.clone(),
        config.spool_retry_interval,
        background.clone(),
    ));
    if let Some(store) = &deps.history {
        tasks.spawn(retry_pending_every(
            Arc::clone(store),
            config.history_retry_interval,
            background.clone(),
        ));
    }
    match platform.stop_url() {
        Some(url) => {
            tasks.spawn(stop::poll(
                client.clone(),
                url,
                board.clone(),
                config.stop_pacing.clone(),
                background.clone(),
            ));
        }
        None => tracing::warn!("the job-take URL has no /job-take/; stop orders are not polled"),
    }
    let ctx = Arc::new(HandlerContext {
        client: client.clone(),
        platform: platform.clone(),
        deps,
        policy: config.policy,
        retry: config.retry.clone(),
        spool,
        board: board.clone(),
    });
    let jobs = TaskTracker::new();
    take_loop(&config, &ctx, &jobs, &shutdown.drain).await;

    jobs.close();
    if !board.is_empty() {
        tracing::info!(
            jobs = board.len(),
            grace = ?config.shutdown_grace,
            "shutting down: letting the jobs in progress finish"
        );
    }
    tokio::select! {
        () = jobs.wait() => {}
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!("shutdown grace is over: cancelling the jobs in progress");
            board.cancel_all();
        }
        () = shutdown.now.cancelled() => {
            tracing::warn!("second signal: cancelling the jobs in progress");
            board.cancel_all();
        }
    }
    jobs.wait().await;
    background.cancel();
    tasks.close();
    tasks.wait().await;
    if let Some(heartbeat) = heartbeat {
        let _ = tokio::task::spawn_blocking(move || heartbeat.join()).await;
    }
    tracing::info!("worker stopped");
    Ok(())
}

/// Takes jobs while there are free slots, until `drain` fires.
async fn take_loop(
    config: &WorkerConfig,
    ctx: &Arc<HandlerContext>,
    jobs: &TaskTracker,
    drain: &CancellationToken,
) {
    let board = &ctx.board;
    let backoff = &config.backoff;
    let concurrency = config.concurrency.max(1);
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            () = board.wait_below(concurrency) => {}
            () = drain.cancelled() => return,
        }
        let free = concurrency - board.len().min(concurrency);
        let url = ctx.platform.take_url(free, !board.is_empty());
        let answer = tokio::select! {
            answer = take(&ctx.client, &url, backoff.take_timeout) => answer,
            () = drain.cancelled() => return,
        };
        let pause = match answer {
            Take::Jobs(taken) => {
                failures = 0;
                for job in taken {
                    let span = tracing::info_span!("job", request_id = %job.id);
                    match board.add(&job.id) {
                        Some(cancel) => {
                            jobs.spawn(handle(ctx.clone(), job, cancel).instrument(span));
                        }
                        None => span.in_scope(|| {
                            tracing::warn!("job delivered again while in progress; ignored");
                        }),
                    }
                }
                Duration::ZERO
            }
            Take::NoJob => {
                failures = 0;
                Duration::ZERO
            }
            Take::FlashBoot => {
                failures = 0;
                jitter(backoff.flash_boot)
            }
            Take::RateLimited => {
                tracing::debug!("job take rate limited");
                jitter_above(backoff.rate_limited)
            }
            Take::Failed(why) => {
                failures = failures.saturating_add(1);
                let wait = backoff
                    .error_base
                    .saturating_mul(1 << failures.min(16).saturating_sub(1))
                    .min(backoff.error_cap);
                tracing::warn!("{why}; retrying in about {wait:?}");
                jitter(wait)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = drain.cancelled() => return,
            }
        }
    }
}

/// Half the wait plus a random part of the other half ("equal jitter").
fn jitter(wait: Duration) -> Duration {
    if wait.is_zero() {
        return wait;
    }
    let half = wait / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

/// The whole wait plus up to half of it again: the platform asks for at least `wait` after
/// a 429 (§2), so the jitter that spreads a fleet out may only lengthen it.
fn jitter_above(wait: Duration) -> Duration {
    wait + wait.mul_f64(rand::rng().random_range(0.0..=0.5))
}

/// Retries the spool at start and then every `interval` until `until` fires.
async fn retry_spool(
    spool: Spool,
    client: reqwest::Client,
    retry: PostPolicy,
    interval: Duration,
    until: CancellationToken,
) {
    loop {
        let report = tokio::select! {
            report = spool.flush(&client, &retry) => report,
            () = until.cancelled() => return,
        };
        if report.left > 0 {
            tracing::warn!(
                left = report.left,
                "spooled results still undelivered; next try in {interval:?}"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = until.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_the_whole_wait() {
        for _ in 0..100 {
            let wait = jitter(Duration::from_secs(4));
            assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_rate_limited_take_waits_at_least_the_whole_wait() {
        for _ in 0..200 {
            let wait = jitter_above(Duration::from_secs(5));
            assert!(
                wait >= Duration::from_secs(5) && wait <= Duration::from_millis(7500),
                "{wait:?}"
            );
        }
        assert_eq!(jitter_above(Duration::ZERO), Duration::ZERO);
    }
}

//! `flaky-detector serve` ([`serve`]): the endpoint API on a local port, executors that run
//! queued jobs through `detect()`, the retention sweeper, webhook deliveries and the retry of
//! history writes kept while the database was down; all stopped together on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub mod api;
pub mod jobs;
pub mod webhook;

use super::progress::update;
use crate::detect::{Deps, detect};
use crate::errors::one_line;
use crate::events::Events;
use crate::history::retry_pending_every;
use api::{ApiSettings, ApiState, router, router_with_dashboard};
use jobs::{JobEnd, JobTable, JobView, Started, TableLimits};

/// How long shutdown waits for cancelled jobs to reap their processes.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// What the operator sets on the command line.
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub concurrency: usize,
    pub max_queue: usize,
    pub retention: Duration,
    pub webhook_retry_wait: Duration,
    /// How often jobs kept while the history database was down are retried (see
    /// [`crate::history::retry_pending_every`]).
    pub history_retry_interval: Duration,
    pub api: ApiSettings,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped with an error")]
    Serve(#[source] std::io::Error),
}

/// Serves until `shutdown` fires, then cancels the jobs, lets requests in flight finish and
/// returns. Prints `listening on http://ADDR` on stdout once the port is bound (the real
/// port when 0 was asked for).
pub async fn serve(
    config: ServeConfig,
    deps: Deps,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let (table, webhooks) = JobTable::new(TableLimits {
        max_queue: config.max_queue,
        retention: config.retention,
        concurrency: config.concurrency.max(1),
    });
    let table = Arc::new(table);
    let tasks = TaskTracker::new();
    for _ in 0..config.concurrency.max(1) {
        tasks.spawn(execute(table.clone(), deps.clone()));
    }
    let background = CancellationToken::new();
    tasks.spawn(sweep(table.clone(), config.retention, background.clone()));
    tasks.spawn(send_webhooks(webhooks, config.webhook_retry_wait));
    if let Some(store) = &deps.history {
        tasks.spawn(retry_pending_every(
            store.clone(),
            config.history_retry_interval,
            background.clone(),
        ));
    }
    let state = ApiState {
        table: table.clone(),
        settings: Arc::new(config.api),
    };
    // A child token, so this function can also end the closing task when the server stops
    // on its own.
    let stop = shutdown.child_token();
    {
        let table = table.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            tracing::info!("shutting down: cancelling jobs, finishing requests in flight");
            table.close();
        });
    }
    println!("listening on http://{addr}");
    tracing::info!(%addr, "endpoint API listening");
    let app = match &deps.history {
        Some(store) => router_with_dashboard(state, store.clone()),
        None => router(state),
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    stop.cancel();
    table.close();
    // The webhook sender ends once the last handle on the table is gone.
    drop(table);
    background.cancel();
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_WAIT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some jobs did not stop within {SHUTDOWN_WAIT:?}");
    }
    served.map_err(ServeError::Serve)
}

/// One executor: takes queued jobs one at a time until the table closes.
async fn execute(table: Arc<JobTable>, deps: Deps) {
    while let Some(started) = table.next_queued().await {
        let span = tracing::info_span!("job", request_id = %started.id);
        run_one(&table, &deps, started).instrument(span).await;
    }
}

async fn run_one(table: &Arc<JobTable>, deps: &Deps, started: Started) {
    tracing::info!("job started");
    let Started {
        id,
        job,
        cancel,
        execution_timeout,
    } = started;
    let (events, mut receiver) = Events::channel();
    let forward = {
        let (table, id) = (table.clone(), id.clone());
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                table.push_chunk(&id, update(&event));
            }
        })
    };
    let (result, timed_out) = {
        let pipeline = detect(job, deps, &events, &cancel);
        tokio::pin!(pipeline);
        tokio::select! {
            result = &mut pipeline => (result, false),
            () = tokio::time::sleep(execution_timeout) => {
                cancel.cancel();
                (pipeline.await, true)
            }
        }
    };
    drop(events);
    let _ = forward.await;
    let outcome = match result {
        _ if timed_out => JobEnd::TimedOut(execution_timeout),
        Ok(summary) => JobEnd::Finished(Box::new(summary)),
        Err(error) => JobEnd::Failed(one_line(&error)),
    };
    tracing::info!(outcome = outcome_name(&outcome), "job ended");
    table.finish(&id, outcome);
}

fn outcome_name(outcome: &JobEnd) -> &'static str {
    match outcome {
        JobEnd::Finished(_) => "finished",
        JobEnd::Failed(_) => "failed",
        JobEnd::TimedOut(_) => "timed out",
    }
}

/// Forgets expired results, checking ten times per retention period (at most once a
/// minute, at least once a second).
async fn sweep(table: Arc<JobTable>, retention: Duration, until: CancellationToken) {
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = until.cancelled() => return,
        }
        let removed = table.sweep();
        if removed > 0 {
            tracing::debug!(removed, "expired job results removed");
        }
    }
}

/// Delivers each webhook on its own task, so a slow receiver delays no other job. Ends
/// when the table (the only sender) is gone.
async fn send_webhooks(mut deliveries: UnboundedReceiver<(String, JobView)>, wait: Duration) {
    let client = reqwest::Client::new();
    let sending = TaskTracker::new();
    while let Some((url, view)) = deliveries.recv().await {
        let client = client.clone();
        sending.spawn(async move { webhook::deliver(&client, &url, &view, wait).await });
    }
    sending.close();
    sending.wait().await;
}

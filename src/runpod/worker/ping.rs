//! The heartbeat (§4): a GET to the ping URL at start and then every interval, listing the
//! jobs in progress. It runs on its own OS thread with its own runtime, so a job that keeps
//! the main runtime busy can never make the platform think the worker is dead.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

use super::board::Board;
use super::platform::Platform;

/// Starts the heartbeat thread; `None` when pings are off (no key, pod id or ping URL) or
/// the thread cannot start. Cancel `stop` and join the handle to end it.
pub fn spawn(
    platform: Arc<Platform>,
    board: Board,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    platform.ping_url(&[])?;
    let spawned = std::thread::Builder::new()
        .name("runpod-heartbeat".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::error!("cannot start the heartbeat runtime: {e}");
                    return;
                }
            };
            runtime.block_on(beat(&platform, &board, &stop));
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!("cannot start the heartbeat thread: {e}");
            None
        }
    }
}

async fn beat(platform: &Platform, board: &Board, stop: &CancellationToken) {
    // Its own client: a reqwest client's connections belong to the runtime that made them.
    let client = match platform.client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("heartbeat disabled: {}", crate::errors::one_line(&e));
            return;
        }
    };
    let interval = platform.ping_interval;
    loop {
        if let Some(url) = platform.ping_url(&board.ids()) {
            let sent = client.get(&url).timeout(interval * 2).send();
            tokio::select! {
                answer = sent => match answer {
                    Ok(response) if !response.status().is_success() => {
                        tracing::warn!("ping answered HTTP {}", response.status());
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("ping failed: {}", crate::http::describe(e)),
                },
                () = stop.cancelled() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.cancelled() => return,
        }
    }
}

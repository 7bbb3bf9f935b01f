//! The job-stop long poll (§6.1): the platform names jobs to stop (cancelled by the user,
//! expired, timed out); each one's runs are killed and nothing is posted for it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::board::Board;

/// Pauses between stop polls (§6.1), configurable for tests like the other waits.
#[derive(Debug, Clone)]
pub struct StopPacing {
    /// After an empty answer (204 or an empty list).
    pub after_empty: Duration,
    /// After a 429.
    pub after_rate_limit: Duration,
    /// After another status or a network error.
    pub after_error: Duration,
    /// Bound on one long poll.
    pub timeout: Duration,
}

impl Default for StopPacing {
    fn default() -> Self {
        StopPacing {
            after_empty: Duration::from_secs(1),
            after_rate_limit: Duration::from_secs(5),
            after_error: Duration::from_secs(1),
            timeout: Duration::from_secs(90),
        }
    }
}

/// Polls `url` until `until` fires, stopping the jobs each answer names.
pub async fn poll(
    client: reqwest::Client,
    url: String,
    board: Board,
    pacing: StopPacing,
    until: CancellationToken,
) {
    loop {
        let pause = tokio::select! {
            answer = client.get(&url).timeout(pacing.timeout).send() => match answer {
                Ok(response) => match response.status() {
                    StatusCode::OK => {
                        let ids = ids_to_stop(response.bytes().await.ok().as_deref());
                        let stopped = ids.iter().filter(|id| stop_one(&board, id)).count();
                        if stopped == 0 { pacing.after_empty } else { Duration::ZERO }
                    }
                    StatusCode::NO_CONTENT => pacing.after_empty,
                    StatusCode::TOO_MANY_REQUESTS => pacing.after_rate_limit,
                    status => {
                        tracing::debug!("job stop poll answered HTTP {status}");
                        pacing.after_error
                    }
                },
                Err(e) if e.is_timeout() => Duration::ZERO,
                Err(e) => {
                    tracing::debug!("job stop poll failed: {}", crate::http::describe(e));
                    pacing.after_error
                }
            },
            () = until.cancelled() => return,
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = until.cancelled() => return,
        }
    }
}

fn stop_one(board: &Board, id: &str) -> bool {
    let known = board.stop(id);
    if known {
        tracing::info!(request_id = %id, "stop order from the platform: cancelling the job");
    }
    known
}

/// The string ids in `{"jobsToStop": [...]}`; anything malformed counts as empty.
fn ids_to_stop(body: Option<&[u8]>) -> Vec<String> {
    let Some(value) = body.and_then(|b| serde_json::from_slice::<Value>(b).ok()) else {
        return Vec::new();
    };
    value
        .get("jobsToStop")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_ids_and_ignores_junk() {
        assert_eq!(
            ids_to_stop(Some(br#"{"jobsToStop": ["a", 3, null, "b"]}"#)),
            ["a", "b"]
        );
        assert!(ids_to_stop(Some(b"not json")).is_empty());
        assert!(ids_to_stop(Some(br#"{"jobsToStop": "a"}"#)).is_empty());
        assert!(ids_to_stop(None).is_empty());
    }
}

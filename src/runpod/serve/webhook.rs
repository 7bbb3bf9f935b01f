//! Webhook delivery for the local endpoint API: when a job ends, its `/status` JSON is
//! POSTed to the `webhook` the request named; a non-2xx answer or no answer gets two more
//! attempts, as RunPod makes (§8).

use std::time::Duration;

use crate::runpod::serve::jobs::JobView;

/// Attempts in all: the first plus RunPod's two retries.
pub const ATTEMPTS: usize = 3;

/// Posts `view` to `url`, up to [`ATTEMPTS`] times, `wait` apart. Returns true once a 2xx
/// came back.
pub async fn deliver(client: &reqwest::Client, url: &str, view: &JobView, wait: Duration) -> bool {
    for attempt in 1..=ATTEMPTS {
        let answer = client
            .post(url)
            .json(view)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let why = match answer {
            Ok(response) if response.status().is_success() => {
                tracing::info!(request_id = %view.id, "webhook delivered");
                return true;
            }
            Ok(response) => format!("HTTP {}", response.status()),
            Err(e) => crate::http::describe(e),
        };
        tracing::warn!(request_id = %view.id, attempt, "webhook not delivered: {why}");
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
        }
    }
    false
}

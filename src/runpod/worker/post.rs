//! Posting to job-done (§3, §5): a final result or a progress update as JSON text, with the
//! SDK's headers and its retry rule (only on 5xx, after waits of 2 s then 3 s by default).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio_util::sync::CancellationToken;

/// Waits between attempts; attempts = waits + 1. Configurable so tests need not sleep 5 s.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub waits: Vec<Duration>,
    /// Bound on each attempt; the SDK's session allows 600 s, far more than a post needs.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            waits: vec![Duration::from_secs(2), Duration::from_secs(3)],
            timeout: Duration::from_secs(60),
        }
    }
}

/// How a post ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The platform refused it with a 4xx: retrying the same body cannot help.
    Refused(u16),
    /// Still 5xx after every attempt, or no answer at all.
    Failed(String),
    /// Given up because `abort` fired between attempts.
    Aborted,
}

/// Posts `body` (JSON text) to `url`. Retries only on 5xx, as the SDK does; a connection
/// error is not retried here (the caller spools a final result and retries it later).
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    job_id: &str,
    body: &str,
    policy: &RetryPolicy,
    abort: Option<&CancellationToken>,
) -> Delivery {
    let mut waits = policy.waits.iter();
    loop {
        let sent = client
            .post(url)
            // Sic (§3): the body is JSON, but the platform is only known to accept this type.
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("charset", "utf-8")
            .header("X-Request-ID", job_id)
            .timeout(policy.timeout)
            .body(body.to_string())
            .send()
            .await;
        let failure = match sent {
            Ok(response) if response.status().is_success() => return Delivery::Delivered,
            Ok(response) if response.status().is_client_error() => {
                return Delivery::Refused(response.status().as_u16());
            }
            Ok(response) => format!("job-done answered HTTP {}", response.status()),
            Err(e) => {
                return Delivery::Failed(format!(
                    "job-done post failed: {}",
                    crate::http::describe(e)
                ));
            }
        };
        let Some(wait) = waits.next() else {
            return Delivery::Failed(failure);
        };
        tracing::debug!("{failure}; retrying in {wait:?}");
        match abort {
            Some(abort) => tokio::select! {
                () = tokio::time::sleep(*wait) => {}
                () = abort.cancelled() => return Delivery::Aborted,
            },
            None => tokio::time::sleep(*wait).await,
        }
    }
}

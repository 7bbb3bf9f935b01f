//! Posting to job-done (§3, §5): a final result or a progress update as JSON text, with the
//! SDK's headers and its retry rule (only on 5xx, after waits of 2 s then 3 s by default).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio_util::sync::CancellationToken;

use crate::http::{Failure, Retries, RetryOn, Sent, Waits, send_with_retries};

/// How a post is sent: its retries and the bound on each attempt. Configurable so tests
/// need not sleep 5 s.
#[derive(Debug, Clone, PartialEq)]
pub struct PostPolicy {
    pub retries: Retries,
    /// Bound on each attempt; the SDK's session allows 600 s, far more than a post needs.
    pub timeout: Duration,
}

impl PostPolicy {
    /// The SDK's retry rule: a 5xx is retried after each of `waits` (attempts = waits +
    /// 1); a 4xx, no answer and `Retry-After` are not.
    pub fn retries(waits: Vec<Duration>) -> Retries {
        Retries {
            on: RetryOn::NotRefused,
            waits: Waits::Listed(waits),
            retry_after_cap: None,
        }
    }
}

impl Default for PostPolicy {
    fn default() -> Self {
        PostPolicy {
            retries: PostPolicy::retries(vec![Duration::from_secs(2), Duration::from_secs(3)]),
            timeout: Duration::from_secs(60),
        }
    }
}

/// How a post ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
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
    policy: &PostPolicy,
    abort: Option<&CancellationToken>,
) -> PostOutcome {
    let make = || {
        client
            .post(url)
            // Sic (§3): the body is JSON, but the platform is only known to accept this type.
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("charset", "utf-8")
            .header("X-Request-ID", job_id)
            .timeout(policy.timeout)
            .body(body.to_string())
    };
    let sent = send_with_retries(&policy.retries, make, abort, |last, _, wait| {
        tracing::debug!("{}; retrying in {wait:?}", failure(last));
    })
    .await;
    match sent {
        Sent::Answered(response) if response.status().is_success() => PostOutcome::Delivered,
        Sent::Answered(response) if response.status().is_client_error() => {
            PostOutcome::Refused(response.status().as_u16())
        }
        Sent::Answered(response) => {
            PostOutcome::Failed(failure(&Failure::Status(response.status())))
        }
        Sent::GaveUp { last, .. } => PostOutcome::Failed(failure(&last)),
        Sent::Aborted => PostOutcome::Aborted,
    }
}

fn failure(last: &Failure) -> String {
    match last {
        Failure::Status(status) => format!("job-done answered HTTP {status}"),
        Failure::NoAnswer(reason) => format!("job-done post failed: {reason}"),
    }
}

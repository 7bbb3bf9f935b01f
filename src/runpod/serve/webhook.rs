//! Webhook delivery for the local endpoint API: when a job ends, its `/status` JSON is
//! POSTed to the `webhook` the request named; a non-2xx answer or no answer gets two more
//! attempts, as RunPod makes (§8).

use std::time::Duration;

use crate::http::{Failure, Retries, RetryOn, Sent, Waits, send_with_retries};
use crate::runpod::serve::jobs::JobView;

/// Attempts in all: the first plus RunPod's two retries.
pub const ATTEMPTS: usize = 3;

/// Posts `view` to `url`, up to [`ATTEMPTS`] times, `wait` apart. Returns true once a 2xx
/// came back.
pub async fn deliver(client: &reqwest::Client, url: &str, view: &JobView, wait: Duration) -> bool {
    let retries = Retries {
        on: RetryOn::AnyFailure,
        waits: Waits::Listed(vec![wait; ATTEMPTS - 1]),
        retry_after_cap: None,
    };
    let make = || client.post(url).json(view).timeout(Duration::from_secs(10));
    let not_delivered = |last: &Failure, attempt: u32| {
        let why = match last {
            Failure::Status(status) => format!("HTTP {status}"),
            Failure::NoAnswer(reason) => reason.clone(),
        };
        tracing::warn!(request_id = %view.id, attempt, "webhook not delivered: {why}");
    };
    match send_with_retries(&retries, make, None, |last, attempt, _| {
        not_delivered(last, attempt);
    })
    .await
    {
        Sent::Answered(_) => {
            tracing::info!(request_id = %view.id, "webhook delivered");
            true
        }
        Sent::GaveUp { last, attempts } => {
            not_delivered(&last, attempts);
            false
        }
        Sent::Aborted => false,
    }
}

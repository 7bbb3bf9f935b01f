//! What every HTTP client in the crate (the RunPod worker and client, `serve`'s webhooks,
//! report channels) does the same way: an error on one line without its URL ([`describe`]),
//! the wait a `Retry-After` header asks for ([`retry_after`]), and a request sent again
//! after a failure ([`Retries`], [`send_with_retries`]). Kept below `report` and `runpod`
//! so neither imports the other for them.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use tokio_util::sync::CancellationToken;

/// A request error on one line with its causes ("tcp connect error: Connection refused"),
/// without the URL, which may carry a job id or a token in its query.
pub fn describe(error: reqwest::Error) -> String {
    crate::errors::one_line(&error.without_url())
}

/// Seconds asked for by a `Retry-After` header (the HTTP-date form is not used by RunPod,
/// GitHub, Slack or Discord, and falls back to the caller's own wait).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// How a client sends a request again: which failures are worth another attempt, how long
/// to wait before each, and whether the server's `Retry-After` overrides that wait. Each
/// client keeps its own values (the RunPod SDK's job-done rule differs from a report
/// channel's), but one loop ([`send_with_retries`]) applies them.
#[derive(Debug, Clone, PartialEq)]
pub struct Retries {
    pub on: RetryOn,
    pub waits: Waits,
    /// Longest `Retry-After` honoured in place of the scheduled wait (a longer one is
    /// waited this long); `None` when the header is not read.
    pub retry_after_cap: Option<Duration>,
}

/// The failures that get another attempt; any other answer is returned to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// Any answer but a 2xx or a 4xx (a 5xx in practice: redirects are followed), and no
    /// answer is not retried: the RunPod SDK's rule for job-done, where a 4xx means the body
    /// is refused and a post that got no answer goes to the caller's spool.
    NotRefused,
    /// A 429, a 5xx or no answer: the server is busy or away, the request itself is fine.
    Unavailable,
    /// Any answer but a 2xx, or none: RunPod's webhook rule.
    AnyFailure,
}

/// The waits before each retry; attempts in all are one more than the waits.
#[derive(Debug, Clone, PartialEq)]
pub enum Waits {
    /// These waits, in order.
    Listed(Vec<Duration>),
    /// `attempts` in all, waiting `first` before the first retry and twice as long before
    /// each next one.
    Doubling { first: Duration, attempts: u32 },
}

impl Waits {
    /// The wait before retry `retry` (0 for the first), or `None` when no retry is left.
    fn before(&self, retry: usize) -> Option<Duration> {
        match self {
            Waits::Listed(waits) => waits.get(retry).copied(),
            Waits::Doubling { first, attempts } => (retry + 1 < *attempts as usize)
                .then(|| (0..retry).fold(*first, |wait, _| wait.saturating_mul(2))),
        }
    }
}

/// Why an attempt did not give an answer the caller takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An answer whose status the policy retries.
    Status(StatusCode),
    /// No answer; the error as [`describe`] puts it.
    NoAnswer(String),
}

/// How [`send_with_retries`] ended.
#[derive(Debug)]
pub enum Sent {
    /// The first answer the policy does not retry: a 2xx, or a status left to the caller.
    Answered(reqwest::Response),
    /// The last failure, after `attempts` attempts: every retry was spent, or it was a
    /// failure the policy does not retry (no answer under [`RetryOn::NotRefused`]).
    GaveUp { last: Failure, attempts: u32 },
    /// `abort` fired while waiting for the next attempt.
    Aborted,
}

/// Sends the request `make` builds (again for each attempt) until an answer the policy does
/// not retry comes back or the retries are spent. `on_retry` sees each failure that is
/// retried, with its attempt number and the wait before the next one, so that each
/// client logs it in its own words.
pub async fn send_with_retries(
    retries: &Retries,
    make: impl Fn() -> reqwest::RequestBuilder,
    abort: Option<&CancellationToken>,
    mut on_retry: impl FnMut(&Failure, u32, Duration),
) -> Sent {
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        let (failure, asked) = match make().send().await {
            Ok(response) if response.status().is_success() => return Sent::Answered(response),
            Ok(response) if retries.on.retries(response.status()) => {
                let asked = retries
                    .retry_after_cap
                    .and_then(|cap| retry_after(response.headers()).map(|asked| asked.min(cap)));
                (Failure::Status(response.status()), asked)
            }
            Ok(response) => return Sent::Answered(response),
            Err(error) => {
                let last = Failure::NoAnswer(describe(error));
                if retries.on == RetryOn::NotRefused {
                    return Sent::GaveUp { last, attempts };
                }
                (last, None)
            }
        };
        let Some(scheduled) = retries.waits.before(attempts as usize - 1) else {
            return Sent::GaveUp {
                last: failure,
                attempts,
            };
        };
        let wait = asked.unwrap_or(scheduled);
        on_retry(&failure, attempts, wait);
        match abort {
            Some(abort) => tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = abort.cancelled() => return Sent::Aborted,
            },
            None => tokio::time::sleep(wait).await,
        }
    }
}

impl RetryOn {
    fn retries(self, status: StatusCode) -> bool {
        match self {
            RetryOn::NotRefused => !status.is_success() && !status.is_client_error(),
            RetryOn::Unavailable => {
                status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            RetryOn::AnyFailure => !status.is_success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_waits_double_and_stop_one_short_of_the_attempts() {
        let waits = Waits::Doubling {
            first: Duration::from_secs(1),
            attempts: 4,
        };
        let all: Vec<_> = (0..5).map(|retry| waits.before(retry)).collect();
        assert_eq!(
            all,
            [Some(1), Some(2), Some(4), None, None].map(|s| s.map(Duration::from_secs))
        );
        let none = Waits::Doubling {
            first: Duration::from_secs(1),
            attempts: 0,
        };
        assert_eq!(none.before(0), None);
    }

    #[test]
    fn listed_waits_are_taken_in_order() {
        let waits = Waits::Listed(vec![Duration::from_secs(2), Duration::from_secs(3)]);
        assert_eq!(waits.before(0), Some(Duration::from_secs(2)));
        assert_eq!(waits.before(1), Some(Duration::from_secs(3)));
        assert_eq!(waits.before(2), None);
    }

    #[test]
    fn each_rule_retries_its_own_statuses() {
        let codes = [200, 204, 400, 401, 404, 429, 500, 503];
        let retried = |on: RetryOn| -> Vec<u16> {
            codes
                .into_iter()
                .filter(|&code| on.retries(StatusCode::from_u16(code).expect("a valid code")))
                .collect()
        };
        assert_eq!(retried(RetryOn::NotRefused), [500, 503]);
        assert_eq!(retried(RetryOn::Unavailable), [429, 500, 503]);
        assert_eq!(retried(RetryOn::AnyFailure), [400, 401, 404, 429, 500, 503]);
    }
}

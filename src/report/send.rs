//! Delivering a report: [`Sender`] sends requests to GitHub, Slack and Discord, retrying
//! 429 and 5xx answers (and no answer) while honouring `Retry-After` up to a cap;
//! [`webhook_url`] reads a webhook URL into a [`SecretUrl`], since it is a credential
//! that no message, log or error may show. [`ReportError`] says what went wrong, naming the channel only.

use std::path::PathBuf;
use std::time::Duration;

use crate::http::{Failure, Retries, RetryOn, Sent, Waits, send_with_retries};
use crate::secrets::SecretUrl;

/// Why a report was not delivered. Messages name the channel, never its URL or token.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the {channel} answered HTTP {status}: {detail}")]
    Status {
        channel: &'static str,
        status: u16,
        detail: String,
    },
    #[error("the {channel} still answered HTTP {status} after {attempts} attempts")]
    Unavailable {
        channel: &'static str,
        status: u16,
        attempts: u32,
    },
    #[error("cannot reach the {channel} after {attempts} attempts: {reason}")]
    Unreachable {
        channel: &'static str,
        attempts: u32,
        reason: String,
    },
    #[error("the {channel} gave an unexpected answer: {detail}")]
    BadAnswer {
        channel: &'static str,
        detail: String,
    },
    #[error("the {what} is not an http:// or https:// URL")]
    BadUrl { what: &'static str },
    #[error(
        "GITHUB_TOKEN is not set; the pull request comment needs a token allowed to write pull requests"
    )]
    NoToken,
    #[error(
        "no repository to comment on: set GITHUB_REPOSITORY or give --github-repository OWNER/NAME"
    )]
    NoRepository,
    #[error("the repository `{0}` is not OWNER/NAME")]
    BadRepository(String),
    #[error(
        "no pull request to comment on: give --pr, set pr_number in the job, or run on a pull_request or workflow_run event"
    )]
    NoPullRequest,
    #[error("GITHUB_STEP_SUMMARY is not set: --step-summary works inside a GitHub Actions step")]
    NoStepSummary,
    #[error("cannot append to the step summary {path}")]
    StepSummary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The webhook URL `text` (Slack's, Discord's), checked to be http(s); the error names
/// `what`, never the text.
pub fn webhook_url(text: &str, what: &'static str) -> Result<SecretUrl, ReportError> {
    SecretUrl::parse(text).ok_or(ReportError::BadUrl { what })
}

/// Attempts a delivery gets in all.
const DELIVERY_ATTEMPTS: u32 = 3;

/// How a report delivery is retried: a 429, a 5xx or no answer gets up to three attempts in
/// all, waiting `backoff` and then twice as long each time, or what a `Retry-After` asks
/// for, up to `max_wait` (a longer one is waited for this long).
pub fn delivery_retries(backoff: Duration, max_wait: Duration) -> Retries {
    Retries {
        on: RetryOn::Unavailable,
        waits: Waits::Doubling {
            first: backoff,
            attempts: DELIVERY_ATTEMPTS,
        },
        retry_after_cap: Some(max_wait),
    }
}

/// Sends report requests with the retry policy.
#[derive(Clone)]
pub struct Sender {
    pub http: reqwest::Client,
    pub retry: Retries,
}

impl Sender {
    pub fn new(retry: Retries) -> Sender {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("flaky-detector/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Sender { http, retry }
    }

    /// Sends the request `make` builds (again for each attempt) and returns the first
    /// answer that is a success. A 429 or 5xx, or no answer, is retried; any other status
    /// is an error at once, with the start of the answer's body as its detail.
    pub async fn send(
        &self,
        channel: &'static str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ReportError> {
        let failure = |last: Failure, attempts: u32| match last {
            Failure::Status(status) => ReportError::Unavailable {
                channel,
                status: status.as_u16(),
                attempts,
            },
            Failure::NoAnswer(reason) => ReportError::Unreachable {
                channel,
                attempts,
                reason,
            },
        };
        let sent = send_with_retries(&self.retry, make, None, |last, attempts, wait| {
            tracing::info!(
                "{}; retrying in {:.1} s",
                crate::errors::one_line(&failure(last.clone(), attempts)),
                wait.as_secs_f64()
            );
        })
        .await;
        match sent {
            Sent::Answered(response) if response.status().is_success() => Ok(response),
            Sent::Answered(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                Err(ReportError::Status {
                    channel,
                    status,
                    detail: detail(&text),
                })
            }
            Sent::GaveUp { last, attempts } => Err(failure(last, attempts)),
            // No abort token is given, so nothing can end the waits early.
            Sent::Aborted => unreachable!("send_with_retries aborted without an abort token"),
        }
    }
}

/// The useful part of an error answer on one short line: a JSON `message` (GitHub,
/// Discord) or the text itself (Slack's `invalid_payload`).
fn detail(text: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.trim().to_string());
    let message = message.replace(['\n', '\r'], " ");
    if message.is_empty() {
        "no detail given".to_string()
    } else {
        super::markdown::cut(&message, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_never_shows() {
        let url = webhook_url(
            "https://hooks.slack.com/services/T0/B0/s3cret",
            "Slack webhook",
        )
        .expect("valid");
        assert!(!format!("{url:?}").contains("s3cret"));
        let error = webhook_url("hooks.slack.com/s3cret", "Slack webhook").expect_err("no scheme");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn error_details_are_short_single_lines() {
        assert_eq!(
            detail(r#"{"message": "Bad\ncredentials"}"#),
            "Bad credentials"
        );
        assert_eq!(detail("invalid_payload\n"), "invalid_payload");
        assert_eq!(detail(""), "no detail given");
        assert!(detail(&"x".repeat(500)).chars().count() <= 200);
    }
}

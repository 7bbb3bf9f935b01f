//! The body of `/run` and `/runsync` ([`RunRequest`]) and its validation into a
//! [`Submission`]: RunPod's fields (`input`, `webhook`, `policy`, `s3Config`), unknown
//! fields refused, the `input` validated exactly as the CLI validates it.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use crate::errors::one_line;
use crate::job::{JobInput, RepoPolicy};
use crate::runpod::serve::jobs::Submission;

/// RunPod's bounds on `policy.executionTimeout` and `policy.ttl` (milliseconds, §8).
const MIN_EXECUTION_TIMEOUT_MS: u64 = 5_000;
const MIN_TTL_MS: u64 = 10_000;
const MAX_POLICY_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RunRequest {
    input: Value,
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    policy: Option<Policy>,
    /// Accepted for compatibility; a flaky-test job uploads nothing.
    #[serde(default, rename = "s3Config")]
    _s3_config: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Policy {
    #[serde(default)]
    execution_timeout: Option<u64>,
    /// Accepted and ignored: there is no scaling to spare here.
    #[serde(default, rename = "lowPriority")]
    _low_priority: Option<bool>,
    #[serde(default)]
    ttl: Option<u64>,
}

/// Parses and validates a request body. Every refusal is a 400 naming the field.
pub fn parse(
    body: &[u8],
    policy: RepoPolicy,
    default_timeout: Duration,
) -> Result<Submission, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let request: RunRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        if path == "." || path.is_empty() {
            ApiError::BadRequest(format!("invalid request body: {message}"))
        } else {
            ApiError::BadRequest(format!("invalid request body: field `{path}`: {message}"))
        }
    })?;
    if let Some(webhook) = &request.webhook {
        check_webhook(webhook)?;
    }
    let (execution_timeout, ttl) = match request.policy {
        Some(policy) => (
            policy
                .execution_timeout
                .map(|ms| check_ms("policy.executionTimeout", ms, MIN_EXECUTION_TIMEOUT_MS))
                .transpose()?
                .unwrap_or(default_timeout),
            policy
                .ttl
                .map(|ms| check_ms("policy.ttl", ms, MIN_TTL_MS))
                .transpose()?,
        ),
        None => (default_timeout, None),
    };
    let job = JobInput::from_value(request.input)
        .and_then(|input| input.validate(policy))
        .map_err(|e| ApiError::BadRequest(one_line(&e)))?;
    Ok(Submission {
        job,
        webhook: request.webhook,
        execution_timeout,
        ttl,
    })
}

fn check_ms(field: &str, ms: u64, min: u64) -> Result<Duration, ApiError> {
    if (min..=MAX_POLICY_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(ApiError::BadRequest(format!(
            "`{field}` must be between {min} and {MAX_POLICY_MS} milliseconds, got {ms}"
        )))
    }
}

fn check_webhook(webhook: &str) -> Result<(), ApiError> {
    match url::Url::parse(webhook) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(ApiError::BadRequest(format!(
            "`webhook` must be an http:// or https:// URL, got `{}`",
            webhook.chars().take(200).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE: RepoPolicy = RepoPolicy { allow_local: false };
    const TEN_MIN: Duration = Duration::from_secs(600);

    fn refusal(body: &str) -> String {
        match parse(body.as_bytes(), REMOTE, TEN_MIN) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("expected a 400 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert!(refusal("{").contains("invalid request body"));
        assert!(refusal(r#"{"input": {"repo": "https://h/a/b"}, "extra": 1}"#).contains("extra"));
        assert!(
            refusal(r#"{"input": {"repo": "https://h/a/b"}, "policy": {"executionTimeout": 10}}"#)
                .contains("policy.executionTimeout")
        );
        assert!(refusal(r#"{"input": {"repo": "https://h/a/b", "runz": 3}}"#).contains("runz"));
        assert!(refusal(r#"{"input": {"repo": "/tmp"}}"#).contains("local repository paths"));
        assert!(
            refusal(r#"{"input": {"repo": "https://h/a/b"}, "webhook": "ftp://x"}"#)
                .contains("webhook")
        );
    }

    #[test]
    fn takes_runpods_fields() {
        let submission = parse(
            br#"{"input": {"repo": "https://h/a/b"}, "webhook": "http://127.0.0.1:9/h",
                "policy": {"executionTimeout": 6000, "lowPriority": true, "ttl": 60000},
                "s3Config": {"bucketName": "b"}}"#,
            REMOTE,
            TEN_MIN,
        )
        .expect("valid");
        assert_eq!(submission.execution_timeout, Duration::from_secs(6));
        assert_eq!(submission.ttl, Some(Duration::from_secs(60)));
    }
}

//! One job-take long poll (§2): a GET to the take URL and what its answer means ([`Take`]).
//! A job object without `id` or `input` is not silently dropped here: the caller answers a
//! job that has an id with an error, so the platform does not wait for a timeout.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

/// A job as the platform hands it over. Other fields (`webhook`, `s3Config`, …) are not ours
/// to act on: the platform calls the webhook itself (§11.25).
#[derive(Debug, Clone, PartialEq)]
pub struct TakenJob {
    pub id: String,
    /// `None` when the job object had no `input`: answered with an error.
    pub input: Option<Value>,
}

/// What one take request came back with.
#[derive(Debug)]
pub enum Take {
    Jobs(Vec<TakenJob>),
    /// 204, or a 200 that is not a JSON job: re-poll at once (the server long-polls).
    NoJob,
    /// 400, "expected when FlashBoot is enabled": no job.
    FlashBoot,
    /// 429: wait before the next take.
    RateLimited,
    /// Another status, or no answer at all. The message names what happened.
    Failed(String),
}

/// Sends one take request, bounded by `timeout` (a long poll that outlives it is abandoned
/// and simply re-polled, §2).
pub async fn take(client: &reqwest::Client, url: &str, timeout: Duration) -> Take {
    let response = match client.get(url).timeout(timeout).send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Take::NoJob,
        Err(e) => {
            return Take::Failed(format!("job take failed: {}", crate::http::describe(e)));
        }
    };
    match response.status() {
        StatusCode::OK => {}
        StatusCode::NO_CONTENT => return Take::NoJob,
        StatusCode::BAD_REQUEST => return Take::FlashBoot,
        StatusCode::TOO_MANY_REQUESTS => return Take::RateLimited,
        status => return Take::Failed(format!("job take answered HTTP {status}")),
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => {
            return Take::Failed(format!(
                "job take body was cut off: {}",
                crate::http::describe(e)
            ));
        }
    };
    if !is_json || body.is_empty() {
        return Take::NoJob;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(value) => Take::Jobs(jobs_in(value)),
        Err(e) => {
            tracing::warn!("job take answered invalid JSON, taken as no job: {e}");
            Take::NoJob
        }
    }
}

/// The jobs in a take answer: one object, or an array of them (batch take). An entry
/// without a string `id` cannot be answered and is logged and dropped.
fn jobs_in(value: Value) -> Vec<TakenJob> {
    let entries = match value {
        Value::Array(entries) => entries,
        other => vec![other],
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Object(mut fields) = entry else {
                tracing::warn!("job take answered a non-object job, dropped");
                return None;
            };
            let id = match fields.remove("id") {
                Some(Value::String(id)) if !id.is_empty() => id,
                _ => {
                    tracing::warn!("job has missing field(s): id; dropped");
                    return None;
                }
            };
            let input = fields.remove("input").filter(|input| !input.is_null());
            Some(TakenJob { id, input })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_single_and_batch_answers() {
        let one = jobs_in(json!({"id": "a", "input": {"repo": "r"}, "webhook": "w"}));
        assert_eq!(
            one,
            [TakenJob {
                id: "a".into(),
                input: Some(json!({"repo": "r"}))
            }]
        );
        let batch = jobs_in(json!([{"id": "a"}, {"input": {}}, 3, {"id": "b", "input": null}]));
        assert_eq!(
            batch,
            [
                TakenJob {
                    id: "a".into(),
                    input: None
                },
                TakenJob {
                    id: "b".into(),
                    input: None
                }
            ]
        );
    }
}

//! [`EndpointClient`]: talks to an endpoint's public API (§8), RunPod's own or a `serve`,
//! for `submit`. It queues a job (`/run`), follows it (`/status`, with `/stream` for
//! progress where the status carries none) and cancels it; every refusal becomes a
//! one-line [`ClientError`] that names the endpoint and never the key.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub mod remote;
pub mod shards;

use crate::http::{Failure, Retries, RetryOn, Sent, Waits, send_with_retries};
use crate::runpod::job_state::JobState;
use crate::summary::Summary;
pub use remote::{Deadline, Progress};

/// Bound on one HTTP request; a `/run` body is at most 10 MB and a summary a few MB.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a job could not be sent or did not give a summary.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "the endpoint {endpoint} refused the API key (HTTP 401): set RUNPOD_API_KEY to a key of this endpoint"
    )]
    Unauthorized { endpoint: String },
    #[error("no endpoint at {endpoint} (HTTP 404): check --endpoint or --url")]
    NotFound { endpoint: String },
    #[error("the endpoint {endpoint} is unavailable: HTTP {status} after {attempts} attempt(s)")]
    Unavailable {
        endpoint: String,
        status: u16,
        attempts: usize,
    },
    #[error("cannot reach the endpoint {endpoint} after {attempts} attempt(s): {reason}")]
    Unreachable {
        endpoint: String,
        attempts: usize,
        reason: String,
    },
    #[error("the endpoint {endpoint} refused the job (HTTP {status}): {message}")]
    Refused {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("the endpoint {endpoint} gave an answer that is not RunPod's: {detail}")]
    BadAnswer { endpoint: String, detail: String },
    #[error(
        "job {id} is unknown to the endpoint {endpoint} (HTTP 404): its result expired or the queue was purged"
    )]
    JobNotFound { endpoint: String, id: String },
    #[error("job {id} ended {state}: {error}")]
    JobEnded {
        id: String,
        state: JobState,
        error: String,
    },
    #[error("job {id} did not finish within {seconds} s (last status {state}); it was cancelled")]
    TimedOut {
        id: String,
        seconds: f64,
        state: JobState,
    },
    #[error("job {id} completed, but its output is not a flaky-detector summary: {detail}")]
    BadOutput { id: String, detail: String },
    #[error("interrupted while job {id} was {state}; it was cancelled")]
    Interrupted { id: String, state: JobState },
}

/// How a client retries and how often it polls. Configurable so tests need not wait.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPolicy {
    pub retries: Retries,
    pub poll_interval: Duration,
}

impl ClientPolicy {
    /// A request that got no answer, a 429 or a 5xx is retried after each of `waits`; a
    /// `Retry-After` header is honoured up to 60 s.
    pub fn retries(waits: Vec<Duration>) -> Retries {
        Retries {
            on: RetryOn::Unavailable,
            waits: Waits::Listed(waits),
            retry_after_cap: Some(Duration::from_secs(60)),
        }
    }
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy {
            retries: ClientPolicy::retries([1, 2, 4].map(Duration::from_secs).to_vec()),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// A client of one endpoint: `https://api.runpod.ai/v2/<id>` or a `serve` base URL.
#[derive(Clone)]
pub struct EndpointClient {
    http: reqwest::Client,
    base: String,
    key: Option<SecretString>,
    policy: ClientPolicy,
}

impl EndpointClient {
    /// `base` is the endpoint's URL, to which `/run`, `/status/{id}` … are appended.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        key: Option<SecretString>,
        policy: ClientPolicy,
    ) -> EndpointClient {
        EndpointClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
            policy,
        }
    }

    /// The endpoint as it may appear in a message: no credentials, no query.
    pub fn endpoint(&self) -> String {
        match url::Url::parse(&self.base) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.as_str().trim_end_matches('/').to_string()
            }
            Err(_) => self.base.clone(),
        }
    }

    /// Queues a job with `input` and returns its id.
    pub async fn run(&self, input: &Value) -> Result<String, ClientError> {
        let body = json!({ "input": input });
        let (status, answer) = self
            .send(reqwest::Method::POST, "/run", Some(&body))
            .await?;
        match status {
            StatusCode::OK | StatusCode::CREATED | StatusCode::ACCEPTED => answer
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| self.bad_answer(format!("/run gave no job id: {}", short(&answer)))),
            StatusCode::NOT_FOUND => Err(ClientError::NotFound {
                endpoint: self.endpoint(),
            }),
            status => Err(ClientError::Refused {
                endpoint: self.endpoint(),
                status: status.as_u16(),
                message: error_text(&answer),
            }),
        }
    }

    /// The job's `/status` answer: its state, and its output or error.
    pub async fn status(&self, id: &str) -> Result<Value, ClientError> {
        let path = format!("/status/{id}");
        let (status, answer) = self.send(reqwest::Method::GET, &path, None).await?;
        match status {
            StatusCode::OK => Ok(answer),
            StatusCode::NOT_FOUND => Err(ClientError::JobNotFound {
                endpoint: self.endpoint(),
                id: id.to_string(),
            }),
            status => Err(ClientError::Refused {
                endpoint: self.endpoint(),
                status: status.as_u16(),
                message: error_text(&answer),
            }),
        }
    }

    /// New `/stream` chunks (each a progress update); empty when the endpoint has none.
    pub async fn stream(&self, id: &str) -> Result<Vec<Value>, ClientError> {
        let path = format!("/stream/{id}");
        let (status, answer) = self.send(reqwest::Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            return Ok(Vec::new());
        }
        // RunPod documents both `{"stream": [...]}` and the bare array.
        let chunks = match &answer {
            Value::Array(chunks) => chunks.clone(),
            other => other
                .get("stream")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        Ok(chunks
            .into_iter()
            .map(|chunk| chunk.get("output").cloned().unwrap_or(chunk))
            .collect())
    }

    /// Asks the endpoint to cancel the job; failures are only logged, since this is
    /// called on the way out of an error already reported.
    pub async fn cancel(&self, id: &str) {
        let path = format!("/cancel/{id}");
        if let Err(error) = self.send(reqwest::Method::POST, &path, None).await {
            tracing::warn!(
                "cannot cancel job {id}: {}",
                crate::errors::one_line(&error)
            );
        }
    }

    /// Polls the job until it ends and returns its summary. `progress` sees each look at
    /// it. At `deadline` or on `cancel`, the job is cancelled on the endpoint and an error
    /// returned.
    pub async fn wait(
        &self,
        id: &str,
        deadline: Deadline,
        cancel: &CancellationToken,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Summary, ClientError> {
        let mut stream_works = true;
        let mut seen = Progress::state(JobState::InQueue);
        loop {
            let answer = self.status(id).await?;
            let state: JobState = answer
                .get("status")
                .cloned()
                .and_then(|s| serde_json::from_value(s).ok())
                .ok_or_else(|| {
                    self.bad_answer(format!("/status gave no known status: {}", short(&answer)))
                })?;
            seen.state = state;
            if state.is_terminal() {
                progress(&seen);
                return self.finished(id, state, answer);
            }
            match answer.get("output") {
                // RunPod keeps the latest progress update as the output of a running job.
                Some(update) if update.is_object() => seen.read(update),
                _ if stream_works && state == JobState::InProgress => match self.stream(id).await {
                    Ok(chunks) => chunks.iter().for_each(|chunk| seen.read(chunk)),
                    Err(_) => stream_works = false,
                },
                _ => {}
            }
            progress(&seen);
            let now = Instant::now();
            if now >= deadline.at {
                self.cancel(id).await;
                return Err(ClientError::TimedOut {
                    id: id.to_string(),
                    seconds: deadline.after.as_secs_f64(),
                    state,
                });
            }
            let pause = self.policy.poll_interval.min(deadline.at - now);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = cancel.cancelled() => {
                    self.cancel(id).await;
                    return Err(ClientError::Interrupted { id: id.to_string(), state });
                }
            }
        }
    }

    fn finished(&self, id: &str, state: JobState, answer: Value) -> Result<Summary, ClientError> {
        if state != JobState::Completed {
            let error = match answer.get("error") {
                Some(Value::String(text)) if !text.is_empty() => text.clone(),
                Some(Value::Null) | None => "the endpoint gave no reason".to_string(),
                Some(other) => other.to_string(),
            };
            return Err(ClientError::JobEnded {
                id: id.to_string(),
                state,
                error: error.replace(['\n', '\r'], " "),
            });
        }
        let output = answer.get("output").cloned().unwrap_or(Value::Null);
        serde_json::from_value(output).map_err(|e| ClientError::BadOutput {
            id: id.to_string(),
            detail: e.to_string(),
        })
    }

    /// Sends one request, retrying when there is no answer, a 429 or a 5xx. Returns the
    /// status and the JSON answer (`Null` for an empty or non-JSON body) of the first
    /// other answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let url = format!("{}{path}", self.base);
        let make = || {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .timeout(REQUEST_TIMEOUT);
            if let Some(key) = &self.key {
                request = request.header(AUTHORIZATION, format!("Bearer {}", key.expose_secret()));
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        };
        let failure = |last: Failure, attempts: u32| match last {
            Failure::Status(status) => ClientError::Unavailable {
                endpoint: self.endpoint(),
                status: status.as_u16(),
                attempts: attempts as usize,
            },
            Failure::NoAnswer(reason) => ClientError::Unreachable {
                endpoint: self.endpoint(),
                attempts: attempts as usize,
                reason,
            },
        };
        let sent = send_with_retries(&self.policy.retries, make, None, |last, attempts, wait| {
            tracing::debug!(
                "{}; retrying in {wait:?}",
                crate::errors::one_line(&failure(last.clone(), attempts))
            );
        })
        .await;
        match sent {
            Sent::Answered(response) => {
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(ClientError::Unauthorized {
                        endpoint: self.endpoint(),
                    });
                }
                let text = response.text().await.unwrap_or_default();
                Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
            }
            Sent::GaveUp { last, attempts } => Err(failure(last, attempts)),
            // No abort token is given, so nothing can end the waits early.
            Sent::Aborted => unreachable!("send_with_retries aborted without an abort token"),
        }
    }

    fn bad_answer(&self, detail: String) -> ClientError {
        ClientError::BadAnswer {
            endpoint: self.endpoint(),
            detail,
        }
    }
}

/// The `error` of an API answer, or the answer itself, on one short line.
fn error_text(answer: &Value) -> String {
    match answer.get("error") {
        Some(Value::String(text)) => text.replace(['\n', '\r'], " "),
        _ if answer.is_null() => "no reason given".to_string(),
        _ => short(answer),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

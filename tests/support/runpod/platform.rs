//! A fake RunPod platform: axum on 127.0.0.1:0 answering job-take, job-stop, job-done and
//! ping the way RunPod does, scripted per test, and recording every request it gets.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::PATIENCE;

/// How long an empty job-take or job-stop is held before a 204, like RunPod's long poll.
const HOLD: Duration = Duration::from_millis(500);

/// A scripted job-take answer.
#[derive(Debug, Clone)]
pub enum TakeAnswer {
    /// One job object (sent as a one-element array on a batch take).
    Job(Value),
    /// A bare status code, such as 400, 429 or 503.
    Status(u16),
}

/// One request the platform got.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    /// The status the fake answered with.
    pub answered: u16,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn is_take(&self) -> bool {
        self.path.contains("/job-take")
    }

    pub fn is_done(&self) -> bool {
        self.path.contains("/job-done/")
    }

    pub fn is_ping(&self) -> bool {
        self.path.contains("/ping/")
    }

    /// A job-done post that is a progress update rather than the result.
    pub fn is_progress(&self) -> bool {
        self.is_done() && self.json()["status"] == "IN_PROGRESS"
    }

    /// The job id in a job-done path (`/job-done/{worker}/{job}`).
    pub fn job_id(&self) -> Option<&str> {
        self.is_done()
            .then(|| self.path.rsplit('/').next())
            .flatten()
    }

    /// The value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Default)]
struct Script {
    takes: VecDeque<TakeAnswer>,
    stops: Vec<String>,
    /// Statuses for the next final (non-progress) job-done posts, in order.
    done_failures: VecDeque<u16>,
    /// When set, every final job-done post gets this status.
    done_down: Option<u16>,
}

struct Shared {
    log: Mutex<Vec<Recorded>>,
    script: Mutex<Script>,
    take_ready: Notify,
    stop_ready: Notify,
    /// Stop orders answered, with the time they were sent.
    stops_sent: Mutex<Vec<(String, Instant)>>,
}

/// The running fake. Dropping it stops the server.
pub struct FakePlatform {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakePlatform {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakePlatform {
    pub async fn start() -> FakePlatform {
        let shared = Arc::new(Shared {
            log: Mutex::default(),
            script: Mutex::default(),
            take_ready: Notify::new(),
            stop_ready: Notify::new(),
            stops_sent: Mutex::default(),
        });
        let app = Router::new()
            .route("/v2/ep/job-take/{worker}", get(take))
            .route("/v2/ep/job-take-batch/{worker}", get(take))
            .route("/v2/ep/job-stop/{worker}", get(stop))
            .route("/v2/ep/job-done/{worker}/{job}", post(done))
            .route("/v2/ep/ping/{worker}", get(ping))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake platform");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake platform runs");
        });
        FakePlatform {
            addr,
            shared,
            server,
        }
    }

    /// The `RUNPOD_*` variables of a worker pointed at this platform.
    pub fn env(&self) -> Vec<(String, String)> {
        let base = format!("http://{}/v2/ep", self.addr);
        [
            (
                "RUNPOD_WEBHOOK_GET_JOB",
                format!("{base}/job-take/$ID?gpu=cpu"),
            ),
            (
                "RUNPOD_WEBHOOK_POST_OUTPUT",
                format!("{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=cpu"),
            ),
            ("RUNPOD_WEBHOOK_PING", format!("{base}/ping/$RUNPOD_POD_ID")),
            ("RUNPOD_POD_ID", "pod-test".to_string()),
            ("RUNPOD_AI_API_KEY", API_KEY.to_string()),
            ("RUNPOD_PING_INTERVAL", "200".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn push_take(&self, answer: TakeAnswer) {
        self.shared
            .script
            .lock()
            .expect("script")
            .takes
            .push_back(answer);
        self.shared.take_ready.notify_waiters();
    }

    pub fn push_job(&self, id: &str, input: Value) {
        self.push_take(TakeAnswer::Job(json!({"id": id, "input": input})));
    }

    pub fn stop_job(&self, id: &str) {
        self.shared
            .script
            .lock()
            .expect("script")
            .stops
            .push(id.to_string());
        self.shared.stop_ready.notify_waiters();
    }

    /// The time the stop order for `id` was handed to the worker.
    pub fn stop_sent_at(&self, id: &str) -> Option<Instant> {
        self.shared
            .stops_sent
            .lock()
            .expect("stops")
            .iter()
            .find(|(sent, _)| sent == id)
            .map(|(_, at)| *at)
    }

    /// Answers the next final job-done posts with these statuses, in order.
    pub fn fail_done(&self, statuses: &[u16]) {
        self.shared
            .script
            .lock()
            .expect("script")
            .done_failures
            .extend(statuses);
    }

    /// Answers every final job-done post with `status` (or normally again with `None`).
    pub fn set_done_down(&self, status: Option<u16>) {
        self.shared.script.lock().expect("script").done_down = status;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().expect("log").clone()
    }

    /// Final results posted for `job` (progress updates left out), answered or not.
    pub fn results(&self, job: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.job_id() == Some(job) && !r.is_progress())
            .collect()
    }

    /// Waits until `done` holds for the requests so far; panics with the log after
    /// [`PATIENCE`].
    pub async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[Recorded]) -> bool,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.requests();
            if done(&log) {
                return log;
            }
            if Instant::now() > deadline {
                let lines: Vec<String> = log
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {}?{} -> {} {}",
                            r.method,
                            r.path,
                            r.query,
                            r.answered,
                            r.body.chars().take(200).collect::<String>()
                        )
                    })
                    .collect();
                panic!(
                    "timed out waiting for {what}; requests:\n{}",
                    lines.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the first delivered (2xx) result of `job` and returns its body.
    pub async fn delivered_result(&self, job: &str) -> Value {
        let log = self
            .wait_until(&format!("the result of {job}"), |log| {
                log.iter()
                    .any(|r| r.job_id() == Some(job) && !r.is_progress() && r.answered == 200)
            })
            .await;
        log.iter()
            .find(|r| r.job_id() == Some(job) && !r.is_progress() && r.answered == 200)
            .map(Recorded::json)
            .expect("found above")
    }
}

/// The API key the fake expects, raw.
pub const API_KEY: &str = "rp-key-S3CRET-0042";

fn record(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: String,
    answered: u16,
) {
    shared.log.lock().expect("log").push(Recorded {
        method,
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        body,
        at: Instant::now(),
        answered,
    });
}

async fn take(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(_): RawQuery,
) -> Response {
    let deadline = tokio::time::Instant::now() + HOLD;
    let answer = loop {
        let ready = shared.take_ready.notified();
        tokio::pin!(ready);
        // Registered before the check, so a job pushed in between still wakes us.
        ready.as_mut().enable();
        if let Some(answer) = shared.script.lock().expect("script").takes.pop_front() {
            break Some(answer);
        }
        if tokio::time::timeout_at(deadline, ready).await.is_err() {
            break None;
        }
    };
    let batch = uri.path().contains("/job-take-batch/");
    let (status, response) = match answer {
        None => (204, StatusCode::NO_CONTENT.into_response()),
        Some(TakeAnswer::Status(code)) => {
            let status = StatusCode::from_u16(code).expect("valid status");
            (code, status.into_response())
        }
        Some(TakeAnswer::Job(job)) => {
            let body = if batch { json!([job]) } else { job };
            (200, axum::Json(body).into_response())
        }
    };
    record(&shared, Method::GET, &uri, headers, String::new(), status);
    response
}

async fn stop(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let ready = shared.stop_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let ids: Vec<String> = std::mem::take(&mut shared.script.lock().expect("script").stops);
        if !ids.is_empty() {
            let now = Instant::now();
            shared
                .stops_sent
                .lock()
                .expect("stops")
                .extend(ids.iter().map(|id| (id.clone(), now)));
            return axum::Json(json!({ "jobsToStop": ids })).into_response();
        }
        if tokio::time::timeout_at(deadline, ready).await.is_err() {
            let _ = uri;
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

async fn done(
    State(shared): State<Arc<Shared>>,
    Path((_worker, _job)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let is_progress =
        serde_json::from_str::<Value>(&body).is_ok_and(|v| v["status"] == "IN_PROGRESS");
    let status = if is_progress {
        200
    } else {
        let mut script = shared.script.lock().expect("script");
        match script.done_down {
            Some(status) => status,
            None => script.done_failures.pop_front().unwrap_or(200),
        }
    };
    record(&shared, Method::POST, &uri, headers, body, status);
    StatusCode::from_u16(status)
        .expect("valid status")
        .into_response()
}

async fn ping(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    record(&shared, Method::GET, &uri, headers, String::new(), 200);
    StatusCode::OK.into_response()
}

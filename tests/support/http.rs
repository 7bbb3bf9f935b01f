//! Shared by the `submit` and `report` tests: a local HTTP server that records every
//! request and answers from a script ([`FakeServer`]), standing in for GitHub, Slack,
//! Discord or a RunPod endpoint; a GitHub that keeps comments and pages them
//! ([`github_api`]); the binary run as a command ([`cli`]); fixed summaries ([`summary`]).

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different part"
)]

use super::summaries;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use summaries::summary;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// What the server answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Responder = dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Recorded>>>,
    respond: Arc<Responder>,
}

/// An HTTP server on 127.0.0.1 (a free port) that records each request and answers with
/// `respond(request, earlier_requests)`. Stops when dropped.
pub struct FakeServer {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    pub async fn start(
        respond: impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static,
    ) -> FakeServer {
        let shared = Shared {
            log: Arc::default(),
            respond: Arc::new(respond),
        };
        let log = shared.log.clone();
        let app = Router::new().fallback(answer).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServer { url, log, task }
    }

    /// The requests so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("the log lock").clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        at: Instant::now(),
    };
    let earlier = shared.log.lock().expect("the log lock").clone();
    let reply = (shared.respond)(&recorded, &earlier);
    shared.log.lock().expect("the log lock").push(recorded);
    let mut response =
        Response::builder().status(StatusCode::from_u16(reply.status).expect("a valid status"));
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A comment the fake GitHub keeps: id, issue, body, author's login.
type StoredComment = (u64, u64, String, &'static str);

/// A GitHub REST API for `o/r` that keeps issue comments, pages them 100 at a time with a
/// `Link: rel="next"` header, creates (`POST …/issues/{n}/comments`, 201) and edits
/// (`PATCH …/issues/comments/{id}`), and lists the pull requests of commit `abc123…`
/// (#9). `comments` seeds the store as (issue, body), written by another user (`octocat`);
/// comments the token creates are written by its user `flaky-bot` (`GET /user`).
pub fn github_api(
    comments: Vec<(u64, String)>,
) -> impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static {
    let store: Arc<Mutex<Vec<StoredComment>>> = Arc::new(Mutex::new(
        comments
            .into_iter()
            .enumerate()
            .map(|(i, (issue, body))| (1000 + i as u64, issue, body, "octocat"))
            .collect(),
    ));
    move |request, _| {
        if request.header("authorization") != Some("Bearer gh-token-123") {
            return Reply::json(401, json!({"message": "Bad credentials"}));
        }
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut store = store.lock().expect("the store lock");
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", ["repos", "o", "r", "issues", n, "comments"]) => {
                let issue: u64 = n.parse().unwrap_or(0);
                let page: usize = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let all: Vec<Value> = store
                    .iter()
                    .filter(|(_, i, _, _)| *i == issue)
                    .map(|(id, _, body, login)| {
                        json!({"id": id, "body": body, "user": {"login": login, "type": "User"}})
                    })
                    .collect();
                let pages = all.len().div_ceil(100).max(1);
                let chunk: Vec<Value> = all.into_iter().skip((page - 1) * 100).take(100).collect();
                let mut reply = Reply::json(200, Value::Array(chunk));
                if page < pages {
                    let host = request.header("host").unwrap_or("127.0.0.1");
                    reply = reply.header(
                        "link",
                        &format!(
                            "<http://{host}/repos/o/r/issues/{issue}/comments?per_page=100&page={}>; rel=\"next\", <http://{host}/repos/o/r/issues/{issue}/comments?per_page=100&page={pages}>; rel=\"last\"",
                            page + 1
                        ),
                    );
                }
                reply
            }
            ("POST", ["repos", "o", "r", "issues", n, "comments"]) => {
                let body = request.json()["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let id = 5000 + store.len() as u64;
                store.push((id, n.parse().unwrap_or(0), body.clone(), "flaky-bot"));
                Reply::json(201, json!({"id": id, "body": body}))
            }
            ("PATCH", ["repos", "o", "r", "issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let body = request.json()["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                match store.iter_mut().find(|(c, _, _, _)| *c == id) {
                    Some(comment) => {
                        comment.2 = body.clone();
                        Reply::json(200, json!({"id": id, "body": body}))
                    }
                    None => Reply::json(404, json!({"message": "Not Found"})),
                }
            }
            ("GET", ["user"]) => Reply::json(200, json!({"login": "flaky-bot", "type": "User"})),
            ("GET", ["repos", "o", "r", "commits", sha, "pulls"]) => {
                if sha.starts_with("abc123") {
                    Reply::json(
                        200,
                        json!([{"number": 4, "state": "closed"}, {"number": 9, "state": "open"}]),
                    )
                } else {
                    Reply::json(200, json!([]))
                }
            }
            _ => Reply::json(404, json!({"message": "Not Found"})),
        }
    }
}

/// Runs the binary with `args` on a clean environment (PATH kept, HOME and the scratch
/// directories in `home`) plus `env`.
pub async fn cli(home: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    tokio::process::Command::new(super::BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("FLAKY_WORK_DIR", home.join("work"))
        .env("FLAKY_CACHE_DIR", home.join("cache"))
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

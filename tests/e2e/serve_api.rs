//! `flaky-detector serve`, RunPod's endpoint API on a local port (§8): the real binary,
//! real seeded runs, requests over loopback HTTP.

use crate::support::runpod as support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::wait::{holds_within, wait_until_async};
use axum::Json;
use axum::http::StatusCode;
use flaky_detector::cli::proc_table;
use serde_json::{Value, json};
use support::PATIENCE;
use support::fixture::{
    group_alive, input, odd_seeds_fail, pid_writer, pids, wait_for_pids, wait_groups_gone,
};
use support::server::{Server, answer};

fn pid_job(repo: &std::path::Path, seeds: &[u64], pid_dir: &std::path::Path) -> Value {
    let mut job = input(repo, seeds);
    job["env"] = json!({"PID_DIR": pid_dir.display().to_string()});
    job
}

#[tokio::test]
async fn run_then_status_reports_the_summary_at_both_prefixes() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = odd_seeds_fail("0");
    let (code, queued) = server
        .post(
            "/v2/my-endpoint/run",
            &json!({"input": input(repo.path(), &[1, 2, 3, 4])}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(queued["status"], "IN_QUEUE");
    let id = queued["id"].as_str().expect("an id");

    let done = server.wait_status(id, "COMPLETED").await;
    assert_eq!(done["output"]["failing_seeds"], json!([1, 3]), "{done}");
    assert_eq!(done["output"]["total_runs"], 4);
    assert!(done["delayTime"].is_u64() && done["executionTime"].is_u64());
    let (code, by_post) = server.post_text(&format!("/v2/x/status/{id}"), "").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(by_post["output"], done["output"]);
}

#[tokio::test]
async fn runsync_returns_the_output_or_the_status_when_the_wait_is_over() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let fast = odd_seeds_fail("0");
    let (code, done) = server
        .post("/runsync", &json!({"input": input(fast.path(), &[1, 2])}))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["output"]["failures"], 1);

    let slow = odd_seeds_fail("4");
    let (code, pending) = server
        .post(
            "/runsync?wait=1000",
            &json!({"input": input(slow.path(), &[2])}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        pending["status"] == "IN_PROGRESS" || pending["status"] == "IN_QUEUE",
        "{pending}"
    );
    assert!(pending.get("output").is_none());
    let id = pending["id"].as_str().expect("an id");
    let done = server.wait_status(id, "COMPLETED").await;
    assert_eq!(done["output"]["failures"], 0);
}

#[tokio::test]
async fn stream_returns_each_progress_chunk_once() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = odd_seeds_fail("0.3");
    let mut job = input(repo.path(), &[2, 3, 4]);
    job["parallelism"] = json!(1);
    let id = server.run(&job).await;

    let mut chunks: Vec<Value> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (code, body) = server.get(&format!("/stream/{id}")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let fresh = body["stream"].as_array().expect("a stream array").clone();
        let finished = body["status"] == "COMPLETED";
        chunks.extend(fresh.iter().map(|c| c["output"].clone()));
        if finished && fresh.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the stream never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages: Vec<&str> = chunks
        .iter()
        .map(|c| c["message"].as_str().expect("a message"))
        .collect();
    assert_eq!(messages[0], format!("fetching {}", repo.path().display()));
    assert!(messages.contains(&"copied"));
    let counts: Vec<&str> = messages
        .iter()
        .copied()
        .filter(|m| m.contains("/3 runs"))
        .collect();
    assert_eq!(
        counts,
        [
            "1/3 runs, 0 failures",
            "2/3 runs, 1 failure",
            "3/3 runs, 1 failure"
        ],
        "every run once, in order: {messages:?}"
    );
}

#[tokio::test]
async fn cancel_kills_a_running_job_and_drops_a_queued_one() {
    let server = Server::start(&["--allow-local-repos", "--concurrency", "1"]).await;
    let repo = pid_writer(0, 600);
    let (running_pids, queued_pids) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let running = server
        .run(&pid_job(repo.path(), &[1, 2], running_pids.path()))
        .await;
    let queued = server
        .run(&pid_job(repo.path(), &[3], queued_pids.path()))
        .await;
    let groups = wait_for_pids(running_pids.path(), 2).await;
    let (_, health) = server.get("/health").await;
    assert_eq!(health["jobs"]["inProgress"], 1, "{health}");
    assert_eq!(health["jobs"]["inQueue"], 1);
    assert_eq!(health["workers"], json!({"idle": 0, "running": 1}));

    let (code, body) = server.post_text(&format!("/cancel/{queued}"), "").await;
    assert_eq!(
        (code, &body["status"]),
        (StatusCode::OK, &json!("CANCELLED"))
    );
    let (code, body) = server.post_text(&format!("/cancel/{running}"), "").await;
    assert_eq!(
        (code, &body["status"]),
        (StatusCode::OK, &json!("CANCELLED"))
    );
    wait_groups_gone(&groups).await;
    // The queued job never started, and the cancelled one stays cancelled: once the
    // executor is idle with nothing queued, nothing can start it any more.
    wait_until_async(PATIENCE, "the executor goes idle", async || {
        let (_, health) = server.get("/health").await;
        health["workers"]["running"] == 0 && health["jobs"]["inQueue"] == 0
    })
    .await;
    assert!(pids(queued_pids.path()).is_empty());
    let (_, status) = server.get(&format!("/status/{running}")).await;
    assert_eq!(status["status"], "CANCELLED");
    let (_, health) = server.get("/health").await;
    assert_eq!(health["workers"], json!({"idle": 1, "running": 0}));
}

#[tokio::test]
async fn an_execution_timeout_times_the_job_out_and_kills_its_runs() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = pid_writer(0, 600);
    let pid_dir = tempfile::tempdir().expect("dir");
    let (code, queued) = server
        .post(
            "/run",
            &json!({
                "input": pid_job(repo.path(), &[1], pid_dir.path()),
                "policy": {"executionTimeout": 5000},
            }),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{queued}");
    let groups = wait_for_pids(pid_dir.path(), 1).await;
    let id = queued["id"].as_str().expect("an id");
    let timed_out = server.wait_status(id, "TIMED_OUT").await;
    assert!(
        timed_out["error"]
            .as_str()
            .is_some_and(|e| e.contains("5000 ms")),
        "{timed_out}"
    );
    wait_groups_gone(&groups).await;
}

#[tokio::test]
async fn a_webhook_gets_the_final_status_and_a_retry() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let hook = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |Json(body): Json<Value>| {
                let received = received.clone();
                async move {
                    let mut received = received.lock().expect("lock");
                    received.push(body);
                    // The first delivery fails, so the retry is exercised.
                    if received.len() == 1 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, hook).await });

    let server = Server::start(&["--allow-local-repos", "--webhook-retry-wait", "0.1"]).await;
    let repo = odd_seeds_fail("0");
    let (_, queued) = server
        .post(
            "/run",
            &json!({"input": input(repo.path(), &[1]), "webhook": format!("http://{hook_addr}/hook")}),
        )
        .await;
    let id = queued["id"].as_str().expect("an id");
    let deadline = Instant::now() + PATIENCE;
    while received.lock().expect("lock").len() < 2 {
        assert!(Instant::now() < deadline, "the webhook was not retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The delivery ends with the 200 it logs; any later attempt would have come before.
    wait_until_async(PATIENCE, "the webhook delivery ends", async || {
        server.process.stderr().contains("webhook delivered")
    })
    .await;
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 2, "no more attempts after a 200");
    for body in &received {
        assert_eq!(body["id"], id);
        assert_eq!(body["status"], "COMPLETED");
        assert_eq!(body["output"]["failing_seeds"], json!([1]));
    }
}

#[tokio::test]
async fn the_api_key_guards_every_route_but_health() {
    let server = Server::start(&["--api-key", "sekrit-key"]).await;
    let url = |path: &str| format!("{}{path}", server.base);
    let body = json!({"input": {"repo": "https://example.invalid/a/b"}}).to_string();
    for header in [None, Some("Bearer wrong"), Some("sekrit-ke")] {
        let mut request = server.client.post(url("/run")).body(body.clone());
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let (code, error) = answer(request.send().await.expect("answer")).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{header:?}");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.contains("API key"))
        );
    }
    for path in ["/status/x", "/v2/ep/cancel/x", "/purge-queue"] {
        let (code, _) = answer(server.client.post(url(path)).send().await.expect("answer")).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/health", "/v2/ep/health"] {
        let (code, health) =
            answer(server.client.get(url(path)).send().await.expect("answer")).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        assert_eq!(health["workers"]["idle"], 1);
    }
    for header in ["Bearer sekrit-key", "sekrit-key"] {
        let request = server
            .client
            .post(url("/purge-queue"))
            .header("authorization", header);
        let (code, purged) = answer(request.send().await.expect("answer")).await;
        assert_eq!(code, StatusCode::OK, "{header}");
        assert_eq!(purged, json!({"removed": 0, "status": "completed"}));
    }
    // Without --allow-local-repos, a local path is refused before it is queued.
    let repo = odd_seeds_fail("0");
    let (code, error) = server
        .post("/run", &json!({"input": input(repo.path(), &[1])}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("local repository paths are not allowed")),
        "{error}"
    );
}

#[tokio::test]
async fn bad_requests_get_a_json_4xx_and_disturb_no_job() {
    let server = Server::start(&["--allow-local-repos", "--concurrency", "2"]).await;
    let repo = odd_seeds_fail("2");
    let running = server.run(&input(repo.path(), &[1, 2])).await;
    let path = repo.path().display().to_string();
    let huge = format!(
        r#"{{"input": {{"repo": "{path}", "test_command": "{}"}}}}"#,
        "x".repeat(11 * 1024 * 1024)
    );
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "/run",
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "invalid request body",
        ),
        (
            "/run",
            json!({"input": {"repo": path}, "inptu": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "inptu",
        ),
        (
            "/run",
            json!({"input": {"repo": path, "parallelsim": 2}}).to_string(),
            StatusCode::BAD_REQUEST,
            "parallelsim",
        ),
        (
            "/run",
            json!({"input": {"repo": path, "runs": 0}}).to_string(),
            StatusCode::BAD_REQUEST,
            "`runs` must be between 1 and 1000",
        ),
        (
            "/run",
            json!({"input": 5}).to_string(),
            StatusCode::BAD_REQUEST,
            "JSON object",
        ),
        (
            "/run",
            json!({"input": {"repo": path}, "policy": {"ttl": 1}}).to_string(),
            StatusCode::BAD_REQUEST,
            "policy.ttl",
        ),
        ("/runsync", huge, StatusCode::PAYLOAD_TOO_LARGE, "limit"),
        (
            "/status/no-such-job",
            String::new(),
            StatusCode::NOT_FOUND,
            "no-such-job",
        ),
        (
            "/cancel/no-such-job",
            String::new(),
            StatusCode::NOT_FOUND,
            "no-such-job",
        ),
        (
            "/v2/ep/nothing-here",
            String::new(),
            StatusCode::NOT_FOUND,
            "no such route",
        ),
    ];
    for (path, body, wanted, says) in cases {
        let (code, error) = server.post_text(path, &body).await;
        assert_eq!(code, wanted, "{path}: {error}");
        let message = error["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {error}"));
        assert!(message.contains(says), "{path}: {message}");
    }
    let (code, error) = server.get("/run").await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error["error"].is_string());

    let done = server.wait_status(&running, "COMPLETED").await;
    assert_eq!(done["output"]["failing_seeds"], json!([1]), "{done}");
}

#[tokio::test]
async fn a_full_queue_answers_429_and_purge_empties_it() {
    let server = Server::start(&["--allow-local-repos", "--max-queue", "1"]).await;
    let repo = pid_writer(0, 600);
    let pid_dir = tempfile::tempdir().expect("dir");
    let running = server
        .run(&pid_job(repo.path(), &[1], pid_dir.path()))
        .await;
    let groups = wait_for_pids(pid_dir.path(), 1).await;
    let queued = server.run(&input(repo.path(), &[2])).await;
    let (code, error) = server
        .post("/run", &json!({"input": input(repo.path(), &[3])}))
        .await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("queue is full"))
    );

    let (_, purged) = server.post_text("/purge-queue", "").await;
    assert_eq!(purged, json!({"removed": 1, "status": "completed"}));
    let (code, _) = server.get(&format!("/status/{queued}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "a purged job is gone");
    let (_, health) = server.get("/health").await;
    assert_eq!(health["jobs"]["inQueue"], 0);
    assert_eq!(health["jobs"]["inProgress"], 1);
    server.post_text(&format!("/cancel/{running}"), "").await;
    wait_groups_gone(&groups).await;
}

#[tokio::test]
async fn finished_jobs_are_forgotten_after_the_retention_period() {
    let server = Server::start(&["--allow-local-repos", "--retention", "1"]).await;
    let repo = odd_seeds_fail("0");
    let id = server.run(&input(repo.path(), &[2])).await;
    server.wait_status(&id, "COMPLETED").await;
    let (_, health) = server.get("/health").await;
    assert_eq!(health["jobs"]["completed"], 1);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (code, body) = server.get(&format!("/status/{id}")).await;
        if code == StatusCode::NOT_FOUND {
            assert!(body["error"].as_str().is_some_and(|e| e.contains(&id)));
            break;
        }
        assert!(Instant::now() < deadline, "the result never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigterm_cancels_the_jobs_and_exits_zero() {
    let mut server = Server::start(&["--allow-local-repos"]).await;
    let repo = pid_writer(0, 600);
    let pid_dir = tempfile::tempdir().expect("dir");
    server
        .run(&pid_job(repo.path(), &[1, 2], pid_dir.path()))
        .await;
    let groups = wait_for_pids(pid_dir.path(), 2).await;
    server.process.sigterm();
    let status = server.process.wait_exit().await;
    assert!(status.success(), "{status:?}:\n{}", server.process.stderr());
    for group in groups {
        assert!(!group_alive(group), "group {group} outlived the server");
    }
}

#[tokio::test]
async fn the_dashboard_is_mounted_and_shows_finished_jobs_behind_the_key() {
    let server = Server::start(&["--allow-local-repos", "--api-key", "dash-key"]).await;
    let repo = odd_seeds_fail("0");
    let (code, done) = server
        .post(
            "/runsync",
            &json!({"input": input(repo.path(), &[1, 2, 3])}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let run_id = done["output"]["run_id"]
        .as_i64()
        .expect("recorded in history");

    let page = |path: String, key: Option<&str>| {
        let mut request = server.client.get(format!("{}{path}", server.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move {
            let response = request.send().await.expect("answer");
            let status = response.status();
            (status, response.text().await.expect("body"))
        }
    };
    let (code, _) = page("/dashboard".into(), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    for path in ["/dashboard/no-such-page", "/dashboard/jobs/999999"] {
        let (code, body) = page(path.into(), None).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let (code, overview) = page("/dashboard".into(), Some("dash-key")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(overview.contains("<html"), "{overview}");
    let (code, detail) = page(format!("/dashboard/jobs/{run_id}"), Some("dash-key")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        detail.contains(&*repo.path().display().to_string()),
        "{detail}"
    );
}

/// Sends `head` (request line and headers, without the blank line) and `body` over a raw
/// connection, so `Host` and `Origin` are exactly what a browser or a rebound name would
/// send; returns the status and the body.
async fn raw(base: &str, head: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("answer read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_keyless_server_refuses_web_pages_and_foreign_host_names() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = odd_seeds_fail("0");
    let job = json!({"input": input(repo.path(), &[2])}).to_string();
    let port = server
        .base
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches('/');
    let local = format!("Host: 127.0.0.1:{port}");

    for (what, head, expected) in [
        (
            "a simple cross-site POST (text/plain, foreign Origin)",
            format!(
                "POST /run HTTP/1.1\r\n{local}\r\nContent-Type: text/plain\r\nOrigin: http://evil.example"
            ),
            403,
        ),
        (
            "a form-encoded POST from this machine",
            format!(
                "POST /run HTTP/1.1\r\n{local}\r\nContent-Type: application/x-www-form-urlencoded"
            ),
            415,
        ),
        (
            "a body without a content type",
            format!("POST /run HTTP/1.1\r\n{local}"),
            415,
        ),
        (
            "a JSON POST from a foreign page",
            format!(
                "POST /run HTTP/1.1\r\n{local}\r\nContent-Type: application/json\r\nOrigin: https://evil.example"
            ),
            403,
        ),
        (
            "DNS rebinding: a foreign name for 127.0.0.1",
            format!(
                "POST /run HTTP/1.1\r\nHost: rebind.evil.example:{port}\r\nContent-Type: application/json"
            ),
            403,
        ),
    ] {
        let (status, body) = raw(&server.base, &head, &job).await;
        assert_eq!(status, expected, "{what}: {body}");
        let error: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
        let message = error["error"].as_str().expect("an error message");
        assert!(!message.contains('\n'), "{message}");
    }
    for path in ["/status/x", "/health", "/dashboard"] {
        let (status, _) = raw(
            &server.base,
            &format!("GET {path} HTTP/1.1\r\nHost: rebind.evil.example:{port}"),
            "",
        )
        .await;
        assert_eq!(status, 403, "{path} read through a rebound name");
    }
    assert_eq!(server.get("/health").await.0, StatusCode::OK);

    // Programs on this machine still get through: JSON, a loopback name, with or without a
    // same-machine Origin; and the bodiless cancel `submit` sends.
    for host in [local.clone(), format!("Host: localhost:{port}")] {
        let (status, body) = raw(
            &server.base,
            &format!("POST /run HTTP/1.1\r\n{host}\r\nContent-Type: application/json; charset=utf-8\r\nOrigin: http://localhost:{port}"),
            &job,
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, _) = raw(
        &server.base,
        &format!("POST /cancel/nope HTTP/1.1\r\n{local}"),
        "",
    )
    .await;
    assert_eq!(status, 404, "an unknown job, not a refusal");
}

#[tokio::test]
async fn a_keyless_server_refuses_a_non_loopback_address_unless_told() {
    let mut process =
        support::process::Process::spawn(&["serve", "--port", "0", "--host", "0.0.0.0"], &[]);
    let status = process.wait_exit().await;
    assert_eq!(status.code(), Some(2));
    let stderr = process.stderr();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: refusing to listen on 0.0.0.0 without an API key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--allow-unauthenticated-remote"),
        "{stderr}"
    );

    let server = Server::start(&["--host", "0.0.0.0", "--allow-unauthenticated-remote"]).await;
    assert_eq!(server.get("/health").await.0, StatusCode::OK);
    let with_key = Server::start(&["--host", "0.0.0.0", "--api-key", "k"]).await;
    assert_eq!(with_key.get("/health").await.0, StatusCode::OK);
}

/// Every process below `root` (host pids, from /proc): (pid, state).
fn descendants(root: i32) -> Vec<(i32, String)> {
    let table = proc_table::read().expect("/proc");
    proc_table::descendants(&table, root)
        .into_iter()
        .map(|entry| (entry.pid, entry.state.clone()))
        .collect()
}

#[tokio::test]
#[cfg_attr(
    not(has_pid_namespace),
    ignore = "needs `unshare -fp --mount-proc` (root, or a privileged container)"
)]
async fn as_pid_1_the_server_reaps_orphaned_grandchildren() {
    let process = support::process::Process::spawn_program(
        "unshare",
        &[
            "-fp",
            "--mount-proc",
            "--kill-child",
            support::process::BIN,
            "serve",
            "--port",
            "0",
            "--allow-local-repos",
        ],
        &[],
    );
    let base = process.listening_url().await;
    let server = Server {
        process,
        base,
        client: reqwest::Client::new(),
        key: None,
    };
    let repo = support::fixture::odd_seeds_fail("0");
    let mut job = input(repo.path(), &[1, 2, 3, 4, 5]);
    job["test_command"] = json!("sh -c 'sleep 0.2 & exit 1'");
    let (code, done) = server.post("/runsync", &json!({ "input": job })).await;
    assert_eq!(code, StatusCode::OK, "{done}");
    assert_eq!(done["output"]["failures"], 5, "{done}");
    // The five background sleeps end 0.2 s after their runs, orphaned to the namespace's
    // PID 1: wait until none is left, running or as a zombie.
    let root = server.process.pid();
    let settled = holds_within(PATIENCE, || {
        descendants(root).iter().all(|(pid, _)| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map_or(true, |c| c.trim() != "sleep")
        })
    })
    .await;
    let zombies: Vec<i32> = descendants(server.process.pid())
        .into_iter()
        .filter(|(_, state)| state == "Z")
        .map(|(pid, _)| pid)
        .collect();
    assert!(
        zombies.is_empty(),
        "zombies left in the server's namespace: {zombies:?}\n{}",
        server.process.stderr()
    );
    assert!(
        settled,
        "the background sleeps are still there: {:?}",
        descendants(root)
    );

    // The init passes SIGTERM on, and exits as the server does (0 after a shutdown).
    let init = descendants(server.process.pid())
        .first()
        .map(|(pid, _)| *pid)
        .expect("the namespace's PID 1");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM sent");
    let mut process = server.process;
    let status = process.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", process.stderr());
    assert!(process.stderr().contains("shutdown signal received"));
}

/// Issue 20: `FLAKY_ISOLATION_MECHANISM` in the server's own environment decides the
/// mechanism of its jobs, as docs/isolation.md says; a job's `env` may still name another.
#[tokio::test]
async fn the_operators_isolation_mechanism_is_obeyed_and_a_job_may_name_another() {
    let env = [("FLAKY_ISOLATION_MECHANISM".to_string(), "slot".to_string())];
    let server = Server::start_with_env(&["--allow-local-repos"], &env).await;
    let repo = odd_seeds_fail("0");
    let id = server.run(&input(repo.path(), &[2, 4])).await;
    let done = server.wait_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["isolation_mechanism"], "slot", "{done}");
    let mut own = input(repo.path(), &[2, 4]);
    own["env"] = json!({"FLAKY_ISOLATION_MECHANISM": "copy"});
    let id = server.run(&own).await;
    let done = server.wait_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["isolation_mechanism"], "copy", "{done}");
}

/// A job's `FLAKY_ISOLATION_MECHANISM` wins over the server's for a local directory too:
/// with the server forcing `overlay`, the directory was kept in place (only the overlay
/// may run over it) while the runs were given the job's `copy`, and the job failed before
/// its first run ("only the overlay mechanism keeps runs from writing").
#[tokio::test]
async fn a_jobs_isolation_mechanism_wins_over_the_operators_for_a_local_directory() {
    let env = [(
        "FLAKY_ISOLATION_MECHANISM".to_string(),
        "overlay".to_string(),
    )];
    let server = Server::start_with_env(&["--allow-local-repos"], &env).await;
    let repo = odd_seeds_fail("0");
    let mut own = input(repo.path(), &[2, 4]);
    own["env"] = json!({"FLAKY_ISOLATION_MECHANISM": "copy"});
    let id = server.run(&own).await;
    let done = server.wait_status(&id, "COMPLETED").await;
    assert_eq!(done["output"]["isolation_mechanism"], "copy", "{done}");
    assert_eq!(done["output"]["total_runs"], 2, "{done}");
    assert_eq!(done["output"]["failures"], 0, "{done}");
}

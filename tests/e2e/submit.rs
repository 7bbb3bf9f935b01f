//! `flaky-detector submit` against the project's own `serve` (the real binary on a free
//! port) and against a recording stand-in for RunPod's endpoint API: the requests it
//! sends, the summary it prints, writes and records, its exit statuses, and a one-line
//! error for each way an endpoint or a job can fail.

use crate::support::http as ci_support;
use crate::support::runpod as support;

use ci_support::{FakeServer, Recorded, Reply, cli, stderr, stdout, summary};
use serde_json::{Value, json};
use support::fixture;
use support::server::Server;

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn parse(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|_| {
        panic!(
            "stdout is not JSON: {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}

#[tokio::test]
async fn a_job_on_serve_is_printed_written_recorded_and_sets_the_exit_status() {
    let server = Server::start(&["--allow-local-repos", "--api-key", "serve-key-1"]).await;
    let repo = fixture::odd_seeds_fail("0");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.json");
    let db = dir.path().join("history.db");
    let args = [
        "submit",
        "--url",
        &server.base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "sh test.sh",
        "--seed",
        "1,2,3,4",
        "-p",
        "4",
        "--no-confirm",
        "--poll-interval",
        "0.1",
        "--json",
        "-o",
        path_str(&out),
        "--db",
        path_str(&db),
        "--fail-on",
        "low",
    ];
    let output = cli(dir.path(), &args, &[("RUNPOD_API_KEY", "serve-key-1")]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = parse(&output);
    assert_eq!(summary["total_runs"], 4);
    assert_eq!(summary["failures"], 2);
    assert_eq!(summary["failing_seeds"], json!([1, 3]));
    assert_eq!(summary["verdict"], "flaky");
    assert!(
        summary["run_id"].is_i64(),
        "recorded in the local history: {summary}"
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("--output written"))
            .expect("JSON");
    assert_eq!(written, summary);
    assert!(
        stderr(&output).contains("job: COMPLETED"),
        "{}",
        stderr(&output)
    );

    let history = cli(
        dir.path(),
        &["history", "--db", path_str(&db), "--json"],
        &[],
    )
    .await;
    let history: Value = serde_json::from_str(&stdout(&history)).expect("history JSON");
    assert_eq!(
        history["jobs"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );

    // Below --fail-on the exit status is 0; a human summary without --json.
    let args = [
        "submit",
        "--url",
        &server.base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "sh test.sh",
        "--seed",
        "1,2",
        "--no-confirm",
        "--poll-interval",
        "0.1",
        "--fail-on",
        "critical",
    ];
    let output = cli(dir.path(), &args, &[("RUNPOD_API_KEY", "serve-key-1")]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("FLAKY: 1 of 2 runs failed"),
        "{}",
        stdout(&output)
    );

    // A wrong key is refused in one line that does not repeat it.
    let output = cli(dir.path(), &args, &[("RUNPOD_API_KEY", "wrong-key-9")]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: the endpoint {} refused the API key (HTTP 401): set RUNPOD_API_KEY to a key of this endpoint\n",
            server.base
        )
    );
}

#[tokio::test]
async fn a_job_that_fails_on_the_endpoint_gives_its_error() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = fixture::odd_seeds_fail("0");
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "submit",
        "--url",
        &server.base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "no-such-program-xyz",
        "-n",
        "2",
        "--poll-interval",
        "0.1",
    ];
    let output = cli(dir.path(), &args, &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: job "), "{err}");
    assert!(
        last.ends_with("ended FAILED: command `no-such-program-xyz` was not found (is it installed and on PATH?)"),
        "{err}"
    );
}

/// A RunPod endpoint `ep-123` whose job `job-1` is queued, then in progress (with a
/// progress update as its output), then ends as `end` says.
fn runpod(end: Value) -> impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static {
    move |request, earlier| {
        let polls = earlier
            .iter()
            .filter(|r| r.path.contains("/status/"))
            .count();
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v2/ep-123/run") => {
                Reply::json(200, json!({"id": "job-1", "status": "IN_QUEUE"}))
            }
            ("GET", "/v2/ep-123/status/job-1") => match polls {
                0 => Reply::json(200, json!({"id": "job-1", "status": "IN_QUEUE"})),
                1 => Reply::json(
                    200,
                    json!({"id": "job-1", "status": "IN_PROGRESS", "output":
                    {"stage": "run_finished", "done": 5, "total": 20, "failures": 1, "message": "5/20 runs, 1 failure"}}),
                ),
                _ => Reply::json(200, end.clone()),
            },
            ("POST", "/v2/ep-123/cancel/job-1") => {
                Reply::json(200, json!({"id": "job-1", "status": "CANCELLED"}))
            }
            _ => Reply::json(404, json!({"error": "no such route"})),
        }
    }
}

const SHA: &str = "abc1234def5678abc1234def5678abc1234def56";

#[tokio::test]
async fn requests_follow_runpods_endpoint_api() {
    let flaky = summary("flaky");
    let endpoint = FakeServer::start(runpod(
        json!({"id": "job-1", "status": "COMPLETED", "output": flaky}),
    ))
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let base = format!("{}/v2", endpoint.url);
    let env = [
        ("RUNPOD_ENDPOINT_BASE_URL", base.as_str()),
        ("RUNPOD_API_KEY", "rp-key-42"),
    ];
    let args = [
        "submit",
        "--endpoint",
        "ep-123",
        "--repo",
        "https://github.com/o/r",
        "-c",
        "pytest -q",
        "-n",
        "20",
        "--ref",
        SHA,
        "--pr",
        "7",
        "--poll-interval",
        "0.05",
        "--json",
    ];
    let output = cli(dir.path(), &args, &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(parse(&output), serde_json::to_value(&flaky).expect("JSON"));

    let requests = endpoint.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/v2/ep-123/run"),
            ("GET", "/v2/ep-123/status/job-1"),
            ("GET", "/v2/ep-123/status/job-1"),
            ("GET", "/v2/ep-123/status/job-1"),
        ]
    );
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer rp-key-42"));
    }
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let input = json!({"input": {
        "repo": "https://github.com/o/r", "test_command": "pytest -q", "runs": 20,
        "ref": SHA, "pr_number": 7, "commit_sha": SHA,
    }});
    assert_eq!(requests[0].json(), input);

    // The same job from a file sends the same body.
    let file = dir.path().join("job.json");
    std::fs::write(&file, input.to_string()).expect("write the job");
    let args = [
        "submit",
        "--endpoint",
        "ep-123",
        "--input",
        path_str(&file),
        "--poll-interval",
        "0.05",
        "--json",
    ];
    let output = cli(dir.path(), &args, &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(endpoint.requests()[4].json(), input);
}

/// Runs `submit` against `endpoint` (`--endpoint ep-123`) and returns its stderr, after
/// checking that it exited with status 1.
async fn failing_submit(endpoint: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = format!("{endpoint}/v2");
    let mut args = vec![
        "submit",
        "--endpoint",
        "ep-123",
        "--repo",
        "https://github.com/o/r",
        "-c",
        "pytest",
        "--poll-interval",
        "0.05",
        "--retry-waits",
        "0.05,0.05",
    ];
    args.extend(extra);
    let output = cli(
        dir.path(),
        &args,
        &[
            ("RUNPOD_ENDPOINT_BASE_URL", &base),
            ("RUNPOD_API_KEY", "rp-key-42"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(!err.contains("rp-key-42"), "{err}");
    err.lines().last().unwrap_or_default().to_string()
}

#[tokio::test]
async fn each_way_an_endpoint_fails_is_one_clear_line() {
    let missing = FakeServer::start(|_, _| Reply::json(404, json!({"error": "not found"}))).await;
    assert_eq!(
        failing_submit(&missing.url, &[]).await,
        format!(
            "error: no endpoint at {}/v2/ep-123 (HTTP 404): check --endpoint or --url",
            missing.url
        )
    );

    let down = FakeServer::start(|_, _| Reply::text(503, "upstream unavailable")).await;
    assert_eq!(
        failing_submit(&down.url, &[]).await,
        format!(
            "error: the endpoint {}/v2/ep-123 is unavailable: HTTP 503 after 3 attempt(s)",
            down.url
        )
    );
    assert_eq!(down.requests().len(), 3);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let line = failing_submit(&closed, &[]).await;
    assert!(
        line.starts_with(&format!(
            "error: cannot reach the endpoint {closed}/v2/ep-123 after 3 attempt(s): "
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");

    for (state, error) in [
        (
            "FAILED",
            "cannot clone https://github.com/o/r: authentication required",
        ),
        ("CANCELLED", "cancelled by request"),
        (
            "TIMED_OUT",
            "the job waited in the queue longer than its ttl",
        ),
    ] {
        let endpoint = FakeServer::start(runpod(
            json!({"id": "job-1", "status": state, "error": error}),
        ))
        .await;
        assert_eq!(
            failing_submit(&endpoint.url, &[]).await,
            format!("error: job job-1 ended {state}: {error}")
        );
    }
}

#[tokio::test]
async fn a_job_still_running_at_the_timeout_is_cancelled() {
    let endpoint = FakeServer::start(runpod(json!({"id": "job-1", "status": "IN_PROGRESS"}))).await;
    assert_eq!(
        failing_submit(&endpoint.url, &["--timeout", "0.5"]).await,
        "error: job job-1 did not finish within 0.5 s (last status IN_PROGRESS); it was cancelled"
    );
    let last = endpoint.requests().pop().expect("requests");
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("POST", "/v2/ep-123/cancel/job-1")
    );
    assert_eq!(last.header("authorization"), Some("Bearer rp-key-42"));
}

#[tokio::test]
async fn a_slack_500_leaves_the_summary_and_exit_status_unchanged() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let slack_hook = FakeServer::start(|_, _| Reply::text(500, "internal_error")).await;
    let repo = fixture::odd_seeds_fail("0");
    let dir = tempfile::tempdir().expect("temp dir");
    let hook = format!("{}/services/T1/B1/slack-secret-abc", slack_hook.url);
    let base = [
        "submit",
        "--url",
        &server.base,
        "--repo",
        path_str(repo.path()),
        "-c",
        "sh test.sh",
        "--seed",
        "1,2,3,4,6,8",
        "--no-confirm",
        "--poll-interval",
        "0.1",
        "--json",
        "--fail-on",
        "medium",
    ];
    let quiet = cli(dir.path(), &base, &[]).await;
    let mut args = base.to_vec();
    args.extend(["--slack", &hook, "--retry-backoff", "0.05"]);
    let noisy = cli(dir.path(), &args, &[]).await;

    assert_eq!(quiet.status.code(), Some(3), "{}", stderr(&quiet));
    assert_eq!(noisy.status.code(), Some(3), "{}", stderr(&noisy));
    let figures = |output: &std::process::Output| {
        let s = parse(output);
        json!([
            s["total_runs"],
            s["failures"],
            s["failing_seeds"],
            s["verdict"],
            s["severity"],
            s["repro_rate"],
            s["ci_low"],
            s["ci_high"]
        ])
    };
    assert_eq!(figures(&noisy), figures(&quiet));
    assert_eq!(
        figures(&noisy),
        json!([6, 2, [1, 3], "flaky", "medium", 0.333, 0.097, 0.7])
    );
    let err = stderr(&noisy);
    assert!(
        err.contains("warning: report to Slack not delivered: the Slack webhook still answered HTTP 500 after 3 attempts"),
        "{err}"
    );
    assert!(!err.contains("slack-secret-abc") && !stdout(&noisy).contains("slack-secret-abc"));
    assert_eq!(slack_hook.requests().len(), 3);
}

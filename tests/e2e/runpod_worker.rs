//! The RunPod serverless worker's protocol against a fake platform (runpod-protocol.md
//! §11): job take, auth, job-done, progress, retries, pings, batches and logs. The real
//! binary, real seeded child processes, a real HTTP server on 127.0.0.1 recording what the
//! worker sends.

use crate::support::runpod as support;

use std::time::{Duration, Instant};

use flaky_detector::errors::one_line;
use flaky_detector::{JobInput, RepoPolicy};

use serde_json::{Value, json};
use support::fixture::{input, odd_seeds_fail};
use support::platform::{API_KEY, FakePlatform, Recorded, TakeAnswer};
use support::process::Process;
use support::worker::{FAST, stop_worker, worker};

/// The pipeline order of progress stages.
fn stage_rank(stage: &str) -> usize {
    [
        "fetching",
        "fetched",
        "installing",
        "installed",
        "running",
        "run_finished",
        "confirming",
    ]
    .iter()
    .position(|s| *s == stage)
    .unwrap_or_else(|| panic!("unexpected stage {stage}"))
}

#[tokio::test]
async fn a_job_is_taken_and_its_summary_posted_with_progress_in_order() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0.3");
    let mut job = input(repo.path(), &[1, 2, 3, 4]);
    job["parallelism"] = json!(1);
    platform.push_job("job-1", job);
    // No subcommand: RUNPOD_WEBHOOK_GET_JOB alone selects the worker (§11.1).
    let mut env = platform.env();
    env.push(("FLAKY_ALLOW_LOCAL_REPOS".into(), "1".into()));
    let process = Process::spawn(&[], &env);

    let result = platform.delivered_result("job-1").await;
    let summary = &result["output"];
    assert_eq!(summary["total_runs"], 4, "{result}");
    assert_eq!(summary["failures"], 2);
    assert_eq!(summary["failing_seeds"], json!([1, 3]));
    assert!(result.get("error").is_none());

    let log = platform.requests();
    for request in &log {
        assert_eq!(
            request.headers["authorization"], API_KEY,
            "the raw key, no Bearer (§11.4): {} {}",
            request.method, request.path
        );
    }
    let take = log.iter().find(|r| r.is_take()).expect("a take");
    assert_eq!(
        take.path, "/v2/ep/job-take/pod-test",
        "$ID is the worker id"
    );
    assert_eq!(take.query, "gpu=cpu&job_in_progress=0");

    let posts: Vec<&Recorded> = log.iter().filter(|r| r.job_id() == Some("job-1")).collect();
    let last = posts.last().expect("posts for the job");
    assert!(!last.is_progress(), "the final result is the last post");
    assert_eq!(last.path, "/v2/ep/job-done/pod-test/job-1");
    assert_eq!(last.query, "gpu=cpu&isStream=false");
    assert_eq!(
        last.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let updates: Vec<Value> = posts
        .iter()
        .filter(|r| r.is_progress())
        .map(|r| r.json()["output"].clone())
        .collect();
    let messages: Vec<&str> = updates
        .iter()
        .map(|u| u["message"].as_str().expect("a message"))
        .collect();
    assert!(messages.contains(&"copied"), "{messages:?}");
    assert!(
        messages.contains(&"running 4 runs, 1 at once"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.ends_with("/4 runs, 1 failure")),
        "{messages:?}"
    );
    let ranks: Vec<usize> = updates
        .iter()
        .map(|u| stage_rank(u["stage"].as_str().expect("a stage")))
        .collect();
    assert!(ranks.is_sorted(), "progress out of order: {messages:?}");
    let done: Vec<u64> = updates.iter().filter_map(|u| u["done"].as_u64()).collect();
    assert!(
        done.windows(2).all(|w| w[0] < w[1]),
        "run counts out of order: {done:?}"
    );
    stop_worker(process).await;
}

#[tokio::test]
async fn odd_take_answers_and_malformed_jobs_do_not_stop_the_loop() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    let path = repo.path().display().to_string();
    let bad_runs = json!({"repo": path, "test_command": "sh test.sh", "runs": 0});
    let typo = json!({"repo": path, "test_command": "sh test.sh", "parallelsim": 2});
    for answer in [
        TakeAnswer::Status(400),
        TakeAnswer::Status(429),
        TakeAnswer::Status(503),
        TakeAnswer::Job(json!({"id": "no-input"})),
        TakeAnswer::Job(json!({"input": {"repo": path}})),
        TakeAnswer::Job(json!({"id": "bad-runs", "input": bad_runs})),
        TakeAnswer::Job(json!({"id": "typo", "input": typo})),
        TakeAnswer::Status(500),
    ] {
        platform.push_take(answer);
    }
    platform.push_job("good", input(repo.path(), &[2]));
    let mut process = worker(&platform, &[]);

    let good = platform.delivered_result("good").await;
    assert_eq!(good["output"]["failures"], 0, "{good}");
    for (id, input) in [("bad-runs", bad_runs), ("typo", typo)] {
        let error = JobInput::from_value(input)
            .and_then(|i| i.validate(RepoPolicy { allow_local: true }))
            .expect_err("the input is invalid");
        let posted = platform.delivered_result(id).await;
        assert_eq!(
            posted,
            json!({"error": one_line(&error)}),
            "the CLI's one-line message"
        );
    }
    let posted = platform.delivered_result("no-input").await;
    assert!(
        posted["error"]
            .as_str()
            .is_some_and(|e| e.contains("no `input`")),
        "{posted}"
    );
    let log = platform.requests();
    let takes: Vec<&Recorded> = log.iter().filter(|r| r.is_take()).collect();
    let after_429 = takes
        .iter()
        .position(|r| r.answered == 429)
        .expect("the 429 was served");
    let gap = takes[after_429 + 1].at - takes[after_429].at;
    // `--rate-limit-wait 0.2` (FAST): the platform asks for at least the whole wait.
    assert!(
        gap >= Duration::from_millis(200),
        "a 429 is followed by at least the whole wait, got {gap:?}"
    );
    assert!(process.try_exit().is_none(), "the worker keeps going");
    stop_worker(process).await;
}

#[tokio::test]
async fn get_job_may_name_the_worker_with_the_pod_id_placeholder() {
    let platform = FakePlatform::start().await;
    let mut env = platform.env();
    env[0].1 = format!(
        "http://{}/v2/ep/job-take/$RUNPOD_POD_ID?gpu=cpu",
        platform.addr
    );
    let process = Process::spawn(&["worker"], &env);
    let log = platform
        .wait_until("a take", |log| log.iter().any(Recorded::is_take))
        .await;
    let take = log.iter().find(|r| r.is_take()).expect("a take");
    assert_eq!(take.path, "/v2/ep/job-take/pod-test");
    stop_worker(process).await;
}

#[tokio::test]
async fn a_result_post_is_retried_after_a_5xx() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    platform.fail_done(&[503]);
    platform.push_job("retried", input(repo.path(), &[1, 2]));
    let process = worker(&platform, &[]);

    let body = platform.delivered_result("retried").await;
    let attempts = platform.results("retried");
    assert_eq!(
        attempts.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(attempts[0].body, attempts[1].body, "the same body again");
    assert!(attempts[1].at - attempts[0].at >= Duration::from_millis(50));
    assert_eq!(body["output"]["failures"], 1);
    stop_worker(process).await;
}

#[tokio::test]
async fn pings_list_the_job_in_progress_and_nothing_when_idle() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("1.5");
    platform.push_job("pinged", input(repo.path(), &[2]));
    let process = worker(&platform, &[]);

    let log = platform
        .wait_until("a ping naming the job", |log| {
            log.iter()
                .any(|r| r.is_ping() && r.param("job_id").as_deref() == Some("pinged"))
        })
        .await;
    let ping = log
        .iter()
        .find(|r| r.is_ping() && r.param("job_id").is_some())
        .expect("found above");
    assert_eq!(ping.path, "/v2/ep/ping/pod-test");
    assert!(ping.param("runpod_version").is_some());
    assert_eq!(ping.headers["authorization"], API_KEY);
    platform.delivered_result("pinged").await;
    let done_at = Instant::now();
    platform
        .wait_until("an idle ping after the job", |log| {
            log.iter()
                .any(|r| r.is_ping() && r.at > done_at && r.param("job_id").is_none())
        })
        .await;
    stop_worker(process).await;
}

#[tokio::test]
async fn with_two_slots_the_worker_takes_batches_and_says_a_job_is_in_progress() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("2");
    platform.push_job("slow", input(repo.path(), &[2]));
    let process = worker(&platform, &["--concurrency", "2"]);
    let log = platform
        .wait_until("a single take while the job runs", |log| {
            log.iter()
                .any(|r| r.is_take() && r.path.ends_with("/job-take/pod-test") && r.answered == 204)
        })
        .await;
    let first = log.iter().find(|r| r.is_take()).expect("a take");
    assert_eq!(first.path, "/v2/ep/job-take-batch/pod-test");
    assert_eq!(first.query, "gpu=cpu&batch_size=2&job_in_progress=0");
    let single = log
        .iter()
        .find(|r| r.is_take() && r.path.ends_with("/job-take/pod-test"))
        .expect("found above");
    assert_eq!(single.query, "gpu=cpu&job_in_progress=1");
    platform.delivered_result("slow").await;
    stop_worker(process).await;
}

#[tokio::test]
async fn local_repositories_are_refused_unless_allowed() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    platform.push_job("local", input(repo.path(), &[2]));
    let mut args = vec!["worker"];
    args.extend(FAST);
    let process = Process::spawn(&args, &platform.env());
    let result = platform.delivered_result("local").await;
    let error = result["error"].as_str().expect("an error");
    assert!(
        error.contains("local repository paths are not allowed"),
        "{error}"
    );
    stop_worker(process).await;
}

#[tokio::test]
async fn logs_are_runpod_json_lines_and_carry_no_secret() {
    let platform = FakePlatform::start().await;
    let token = "ghp-T0KEN-in-the-url-77";
    platform.push_job(
        "secretive",
        json!({
            "repo": format!("https://user:{token}@127.0.0.1:9/owner/repo.git"),
            "test_command": "sh test.sh",
        }),
    );
    let mut env = platform.env();
    env.push(("RUNPOD_ENDPOINT_ID".into(), "ep".into()));
    let mut args = vec!["worker"];
    args.extend(FAST);
    let mut process = Process::spawn(&args, &env);
    let result = platform.delivered_result("secretive").await;
    let error = result["error"].as_str().expect("the clone fails");
    assert!(error.contains("127.0.0.1:9/owner/repo.git"), "{error}");
    assert!(!error.contains(token), "{error}");
    process.sigterm();
    assert!(process.wait_exit().await.success());

    let (stdout, stderr) = (process.stdout(), process.stderr());
    for secret in [API_KEY, token] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
        .collect();
    for line in &lines {
        let keys: Vec<&String> = line.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["level", "message", "requestId"], "{line}");
    }
    assert!(
        lines.iter().any(|l| l["requestId"] == "secretive"),
        "job lines carry the job id:\n{stdout}"
    );
}

#[tokio::test]
async fn run_sh_starts_the_worker() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    platform.push_job("via-run-sh", input(repo.path(), &[2]));
    let mut env = platform.env();
    env.push((
        "FLAKY_DETECTOR_BIN".into(),
        support::process::BIN.to_string(),
    ));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/run.sh");
    let process = Process::spawn_program("sh", &[script, "--allow-local-repos"], &env);
    let result = platform.delivered_result("via-run-sh").await;
    assert_eq!(result["output"]["total_runs"], 1);
    stop_worker(process).await;
}

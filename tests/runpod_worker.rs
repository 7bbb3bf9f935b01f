//! The RunPod serverless worker against a fake platform (runpod-protocol.md §11): the real
//! binary, real seeded child processes, a real HTTP server on 127.0.0.1 recording what the
//! worker sends.

mod support;

use std::time::{Duration, Instant};

use flaky_detector::errors::one_line;
use flaky_detector::{JobInput, RepoPolicy};
use serde_json::{Value, json};
use support::fixture::{group_alive, input, odd_seeds_fail, pid_writer, pids};
use support::platform::{API_KEY, FakePlatform, Recorded, TakeAnswer};
use support::process::{Process, spool_in};

/// Fast retries, so a test never sleeps RunPod's real 2 s and 3 s.
const FAST: [&str; 6] = [
    "--post-retry-waits",
    "0.05,0.05",
    "--rate-limit-wait",
    "0.2",
    "--error-backoff",
    "0.2",
];

fn worker(platform: &FakePlatform, extra: &[&str]) -> Process {
    let mut args = vec!["worker", "--allow-local-repos"];
    args.extend(FAST);
    args.extend(extra);
    Process::spawn(&args, &platform.env())
}

fn with_env(mut input: Value, name: &str, value: &str) -> Value {
    input["env"] = json!({ name: value });
    input
}

/// The pipeline order of progress stages.
fn stage_rank(stage: &str) -> usize {
    [
        "fetching",
        "fetched",
        "installing",
        "installed",
        "running",
        "run_finished",
    ]
    .iter()
    .position(|s| *s == stage)
    .unwrap_or_else(|| panic!("unexpected stage {stage}"))
}

async fn stop_worker(mut process: Process) {
    process.sigterm();
    let status = process.wait_exit().await;
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        process.stderr()
    );
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
    assert!(
        gap >= Duration::from_millis(100),
        "a 429 is followed by a wait, got {gap:?}"
    );
    assert!(process.try_exit().is_none(), "the worker keeps going");
    stop_worker(process).await;
}

#[tokio::test]
async fn an_unreachable_platform_does_not_end_the_worker() {
    // A port nothing listens on: every take is a connection error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let env: Vec<(String, String)> = [
        (
            "RUNPOD_WEBHOOK_GET_JOB",
            format!("http://{addr}/v2/ep/job-take/$ID"),
        ),
        (
            "RUNPOD_WEBHOOK_POST_OUTPUT",
            format!("http://{addr}/v2/ep/job-done/$RUNPOD_POD_ID/$ID"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut process = Process::spawn(&["worker", "--error-backoff", "0.1"], &env);
    let deadline = Instant::now() + support::PATIENCE;
    while process.stderr().matches("job take failed").count() < 3 {
        assert!(process.try_exit().is_none(), "{}", process.stderr());
        assert!(Instant::now() < deadline, "{}", process.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        process.stderr().contains("Connection refused"),
        "{}",
        process.stderr()
    );
    assert!(process.try_exit().is_none(), "the worker keeps trying");
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
async fn an_undeliverable_result_is_spooled_then_delivered() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    let spool = tempfile::tempdir().expect("spool dir");
    let spool_dir = spool_in(spool.path());
    let spool_arg = spool_dir.display().to_string();
    platform.set_done_down(Some(503));
    platform.push_job("spooled", input(repo.path(), &[1, 2, 3]));
    let process = worker(
        &platform,
        &["--spool-dir", &spool_arg, "--spool-retry-interval", "0.3"],
    );

    platform
        .wait_until("three failed attempts", |log| {
            log.iter()
                .filter(|r| r.job_id() == Some("spooled") && !r.is_progress())
                .count()
                >= 3
        })
        .await;
    let spooled = wait_for_files(&spool_dir, 1).await;
    let first_body = platform.results("spooled")[0].body.clone();
    platform.set_done_down(None);

    let delivered = platform.delivered_result("spooled").await;
    assert_eq!(delivered.to_string(), first_body.trim(), "the same summary");
    assert_eq!(delivered["output"]["failing_seeds"], json!([1, 3]));
    wait_for_files(&spool_dir, 0).await;
    assert!(!spooled[0].exists());
    stop_worker(process).await;
}

#[tokio::test]
async fn a_spooled_result_is_delivered_by_the_next_worker_at_start() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    let spool = tempfile::tempdir().expect("spool dir");
    let spool_dir = spool_in(spool.path());
    let spool_arg = spool_dir.display().to_string();
    platform.set_done_down(Some(502));
    platform.push_job("carried", input(repo.path(), &[2]));
    let first = worker(&platform, &["--spool-dir", &spool_arg]);
    wait_for_files(&spool_dir, 1).await;
    stop_worker(first).await;
    assert!(
        platform
            .results("carried")
            .iter()
            .all(|r| r.answered == 502)
    );

    platform.set_done_down(None);
    let second = worker(
        &platform,
        &["--spool-dir", &spool_arg, "--spool-retry-interval", "3600"],
    );
    let delivered = platform.delivered_result("carried").await;
    assert_eq!(delivered["output"]["total_runs"], 1);
    wait_for_files(&spool_dir, 0).await;
    stop_worker(second).await;
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
async fn a_stop_order_kills_the_runs_within_two_seconds_and_posts_nothing() {
    let platform = FakePlatform::start().await;
    let repo = pid_writer(0, 600);
    let pid_dir = tempfile::tempdir().expect("pid dir");
    let job = with_env(
        input(repo.path(), &[1, 2]),
        "PID_DIR",
        &pid_dir.path().display().to_string(),
    );
    platform.push_job("stopped", job);
    let process = worker(&platform, &[]);

    let groups = wait_for_pids(pid_dir.path(), 2).await;
    platform.stop_job("stopped");
    let sent = loop {
        if let Some(at) = platform.stop_sent_at("stopped") {
            break at;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    loop {
        let alive: Vec<i32> = groups.iter().copied().filter(|g| group_alive(*g)).collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "process groups {alive:?} outlived the stop order by 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The worker goes on with the next job, and never posts for the stopped one.
    let repo2 = odd_seeds_fail("0");
    platform.push_job("after-stop", input(repo2.path(), &[2]));
    platform.delivered_result("after-stop").await;
    assert!(
        platform.results("stopped").is_empty(),
        "no result for a stopped job"
    );
    assert!(
        !platform
            .requests()
            .iter()
            .any(|r| r.job_id() == Some("stopped") && r.at > sent),
        "nothing posted after the stop order"
    );
    stop_worker(process).await;
}

#[tokio::test]
async fn sigterm_lets_the_job_finish_then_exits_zero() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("1.5");
    platform.push_job("draining", input(repo.path(), &[2, 4]));
    let mut process = worker(&platform, &["--shutdown-grace", "60"]);
    platform
        .wait_until("the runs to start", |log| {
            log.iter()
                .any(|r| r.job_id() == Some("draining") && r.json()["output"]["stage"] == "running")
        })
        .await;
    platform.push_job("never", input(repo.path(), &[2]));
    process.sigterm();
    let status = process.wait_exit().await;
    assert!(status.success(), "exit {status:?}:\n{}", process.stderr());

    let result = platform.delivered_result("draining").await;
    assert_eq!(result["output"]["total_runs"], 2, "{result}");
    assert!(result["output"].get("cancelled").is_none());
    assert!(
        platform.results("never").is_empty(),
        "no job is taken after SIGTERM"
    );
}

#[tokio::test]
async fn sigterm_past_the_grace_cancels_and_posts_a_partial_summary() {
    let platform = FakePlatform::start().await;
    let repo = pid_writer(3, 600);
    let pid_dir = tempfile::tempdir().expect("pid dir");
    let job = with_env(
        input(repo.path(), &[1, 2, 3, 4]),
        "PID_DIR",
        &pid_dir.path().display().to_string(),
    );
    platform.push_job("partial", job);
    let mut process = worker(&platform, &["--shutdown-grace", "0.5"]);
    let groups = wait_for_pids(pid_dir.path(), 4).await;
    platform
        .wait_until("the two quick runs", |log| {
            log.iter()
                .any(|r| r.job_id() == Some("partial") && r.json()["output"]["done"] == 2)
        })
        .await;
    process.sigterm();
    let status = process.wait_exit().await;
    assert!(status.success(), "exit {status:?}:\n{}", process.stderr());

    let result = platform.delivered_result("partial").await;
    let summary = &result["output"];
    assert_eq!(summary["cancelled"], true, "{result}");
    assert_eq!(summary["total_runs"], 2);
    assert_eq!(summary["failures"], 0);
    for group in groups {
        assert!(!group_alive(group), "group {group} outlived the worker");
    }
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

/// Waits until `dir` holds exactly `count` `.json` files and returns them.
async fn wait_for_files(dir: &std::path::Path, count: usize) -> Vec<std::path::PathBuf> {
    let deadline = Instant::now() + support::PATIENCE;
    loop {
        let files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        if files.len() == count {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} spooled files in {}, found {files:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `count` runs have written their pid.
async fn wait_for_pids(dir: &std::path::Path, count: usize) -> Vec<i32> {
    let deadline = Instant::now() + support::PATIENCE;
    loop {
        let found = pids(dir);
        if found.len() == count {
            return found;
        }
        assert!(Instant::now() < deadline, "only {found:?} runs started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

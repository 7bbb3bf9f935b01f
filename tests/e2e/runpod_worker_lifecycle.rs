//! The RunPod serverless worker's lifecycle against a fake platform: results spooled and
//! delivered later, stop orders, SIGTERM with and past the grace period, an unreachable
//! platform. The real binary and real child processes, whose process groups are checked.

use crate::support::runpod as support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::fixture::{group_alive, input, odd_seeds_fail, pid_writer, wait_for_pids};
use support::platform::FakePlatform;
use support::process::{Process, spool_in};
use support::worker::{stop_worker, wait_for_files, with_env, worker};

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

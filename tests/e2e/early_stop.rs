//! Early stop (`stop_early: true`): no new run starts once more runs cannot change the
//! verdict or the severity band, and the summary says how many runs that saved.

use crate::support::pertest as pertest_support;

use flaky_detector::analysis::{Severity, Verdict};
use pertest_support::run_job;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_command_stops_once_the_interval_is_critical() {
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "sh -c 'echo connection refused >&2; exit 1'",
        "runs": 200,
        "parallelism": 4,
        "stop_early": true,
        "confirm": false,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::AlwaysFailing);
    assert_eq!(summary.severity, Severity::Critical);
    assert_eq!(summary.first_error.as_deref(), Some("connection refused"));
    assert!(summary.total_runs <= 100, "{} runs", summary.total_runs);
    assert!(summary.total_runs >= 60, "{} runs", summary.total_runs);
    assert_eq!(summary.runs_saved, 200 - summary.total_runs);
    assert_eq!(summary.runs_requested, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seventy_percent_flake_stops_inside_the_high_band() {
    let repo = tempfile::tempdir().expect("repo dir");
    // Seeds 1..=200 in order: seed % 10 below 7 fails, so every ten runs hold seven failures.
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "sh -c 'test $((TEST_SEED % 10)) -ge 7'",
        "seeds": (1..=200).collect::<Vec<u64>>(),
        "parallelism": 4,
        "stop_early": true,
        "confirm": false,
    }))
    .await;
    // The full 200 runs give 140 failures: flaky, severity high.
    assert_eq!(summary.verdict, Verdict::Flaky);
    assert_eq!(summary.severity, Severity::High);
    assert!(summary.total_runs <= 100, "{} runs", summary.total_runs);
    assert_eq!(summary.runs_saved, 200 - summary.total_runs);
    assert!(
        summary.ci_low >= 0.5 && summary.ci_high < 0.9,
        "{summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_never_failed_runs_every_run() {
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "true",
        "runs": 30,
        "parallelism": 4,
        "stop_early": true,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Stable);
    assert_eq!(summary.total_runs, 30);
    assert_eq!(summary.runs_saved, 0);
}

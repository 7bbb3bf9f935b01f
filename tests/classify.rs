//! The confirmation phase on real child processes (issues 4 and 7): failing seeds are
//! replayed alone and under load, and the replays tell a seed-keyed failure from an
//! `os.urandom`-keyed one and from one caused by contention between runs; a command that
//! fails every run is a real bug, shown with its first error.

mod pertest_support;

use flaky_detector::Event;
use flaky_detector::analysis::Verdict;
use flaky_detector::summary::Classification;
use pertest_support::{classify_fixture, run_job, run_job_with_events, tool_available};
use serde_json::json;

fn python() -> bool {
    tool_available("python3", "apt-get install -y python3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_keyed_failure_is_seed_dependent() {
    if !python() {
        return;
    }
    let repo = tempfile::tempdir().expect("repo dir");
    let (summary, events) = run_job_with_events(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("seeded.py")),
        "seeds": (1..=12).collect::<Vec<u64>>(),
        "parallelism": 4,
    }))
    .await;
    // The front ends hear that the confirmation phase started, and with which seeds, after
    // the last run of the first phase.
    let confirming = events
        .iter()
        .position(|e| matches!(e, Event::Confirming { seeds } if seeds == &[3, 6, 9, 12]))
        .expect("a Confirming event");
    let last_run = events
        .iter()
        .rposition(|e| matches!(e, Event::RunFinished { .. }))
        .expect("run events");
    assert!(last_run < confirming, "{events:?}");
    assert_eq!(summary.verdict, Verdict::Flaky);
    assert_eq!(summary.failing_seeds, vec![3, 6, 9, 12]);
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    assert_eq!(confirmation.seeds, vec![3, 6, 9, 12]);
    // Three replays of each seed alone and three under load, every one failing again.
    assert_eq!(
        (confirmation.alone_runs, confirmation.alone_failures),
        (12, 12)
    );
    assert_eq!(
        (confirmation.load_runs, confirmation.load_failures),
        (12, 12)
    );
    assert_eq!(summary.classification, Some(Classification::SeedDependent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urandom_keyed_failure_is_nondeterministic() {
    if !python() {
        return;
    }
    let repo = tempfile::tempdir().expect("repo dir");
    // About 60 % of runs fail whatever the seed; 20 runs all passing or all failing, or 15
    // replays alone all passing, each has a probability below 1e-4.
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("urandom.py")),
        "runs": 20,
        "parallelism": 4,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    assert_eq!(confirmation.seeds.len(), 5);
    assert!(confirmation.alone_failures > 0, "{confirmation:?}");
    assert!(
        confirmation.alone_failures + confirmation.load_failures
            < confirmation.alone_runs + confirmation.load_runs,
        "{confirmation:?}"
    );
    assert_eq!(
        summary.classification,
        Some(Classification::Nondeterministic)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_failing_every_run_is_always_failing_with_its_first_error() {
    if !python() {
        return;
    }
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("always.py")),
        "runs": 6,
        "parallelism": 3,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::AlwaysFailing);
    assert_eq!(summary.classification, Some(Classification::AlwaysFailing));
    assert_eq!(
        summary.first_error.as_deref(),
        Some("RuntimeError: database is down")
    );
    // Nothing flaky: nothing to replay.
    assert_eq!(summary.confirmation, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_only_under_load_is_contention_dependent() {
    if !python() {
        return;
    }
    let repo = tempfile::tempdir().expect("repo dir");
    let lock_dir = tempfile::tempdir().expect("shared lock dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("contention.py")),
        "runs": 8,
        "parallelism": 4,
        "env": {"FLAKY_LOCK_DIR": lock_dir.path()},
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    // Alone, nothing else holds the lock: every replay passes. Under load they fight.
    assert!(confirmation.alone_runs > 0, "{confirmation:?}");
    assert_eq!(confirmation.alone_failures, 0, "{confirmation:?}");
    assert!(confirmation.load_failures > 0, "{confirmation:?}");
    assert_eq!(
        summary.classification,
        Some(Classification::ContentionDependent)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_false_skips_the_replays() {
    if !python() {
        return;
    }
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("seeded.py")),
        "seeds": [1, 3],
        "confirm": false,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Flaky);
    assert_eq!(summary.confirmation, None);
    assert_eq!(summary.classification, None);
}

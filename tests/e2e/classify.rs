//! The confirmation phase on real child processes (issues 4 and 7): failing seeds are
//! replayed alone and under load, and the replays tell a seed-keyed failure from an
//! `os.urandom`-keyed one and from one caused by contention between runs; a command that
//! fails every run is a real bug, shown with its first error.

use crate::support::pertest as pertest_support;

use flaky_detector::Event;
use flaky_detector::analysis::Verdict;
use flaky_detector::summary::Classification;
use pertest_support::{classify_fixture, require_tool, run_job, run_job_with_events};
use serde_json::json;

fn require_python() {
    require_tool("python3", "apt-get install -y python3");
}

/// Issue 10: the replays never exceed the job's budget.
fn within_budget(confirmation: &flaky_detector::summary::ConfirmationReport) -> bool {
    confirmation.budget > 0
        && confirmation.alone_runs + confirmation.load_runs <= confirmation.budget
}

/// Issue 10: an explicit budget bounds the replays (and still classifies within it); a
/// budget of 0 skips the phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_budget_bounds_the_replays() {
    require_python();
    let repo = tempfile::tempdir().expect("repo dir");
    let job = |budget: u32| {
        json!({
            "repo": repo.path(),
            "test_command": format!("python3 {}", classify_fixture("seeded.py")),
            "seeds": (1..=12).collect::<Vec<u64>>(),
            "parallelism": 4,
            "confirm_budget": budget,
        })
    };
    let summary = run_job(job(2)).await;
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    assert_eq!(confirmation.budget, 2);
    assert_eq!(confirmation.seeds, vec![3]);
    assert_eq!((confirmation.alone_runs, confirmation.load_runs), (1, 1));
    // Issue 20: two failing replays do not tell a seed-keyed failure at 4 of 12 from chance
    // at 1 %, so the class is not settled rather than guessed.
    assert_eq!(summary.classification, Some(Classification::NotSettled));

    let summary = run_job(job(0)).await;
    assert_eq!(summary.confirmation, None);
    assert_eq!(summary.classification, None);
}

/// Issue 10: a failure that both recurs and passes on replay is nondeterministic for good,
/// so the phase stops long before a generous budget is spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replays_stop_once_the_class_is_settled() {
    require_python();
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": format!("python3 {}", classify_fixture("urandom.py")),
        "runs": 20,
        "parallelism": 2,
        "confirm_budget": 30,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    // Five seeds, ten replays a round: still unsettled after two rounds only if all ten
    // replays alone passed (0.4^10) or all twenty failed (0.6^20).
    assert!(
        confirmation.alone_runs + confirmation.load_runs < 30,
        "{confirmation:?}"
    );
    assert_eq!(
        summary.classification,
        Some(Classification::Nondeterministic)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_keyed_failure_is_seed_dependent() {
    require_python();
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
        .position(|e| matches!(e, Event::Confirming { seeds } if seeds == &[3]))
        .expect("a Confirming event");
    let last_run = events
        .iter()
        .rposition(|e| matches!(e, Event::RunFinished { .. }))
        .expect("run events");
    assert!(last_run < confirming, "{events:?}");
    assert_eq!(summary.verdict, Verdict::Flaky);
    assert_eq!(summary.failing_seeds, vec![3, 6, 9, 12]);
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    // Issue 20: 4 of 12 runs failed, a rate as high as 0.61 at 95 %, so 10 failing replays
    // in a row (0.61^10 < 1 %) tell a seed-keyed failure from chance: one seed, in rounds
    // alone and under load, every replay failing again.
    assert_eq!(confirmation.budget, 10);
    assert_eq!(confirmation.seeds, vec![3]);
    assert_eq!(
        (confirmation.alone_runs, confirmation.alone_failures),
        (5, 5)
    );
    assert_eq!((confirmation.load_runs, confirmation.load_failures), (5, 5));
    assert_eq!(summary.classification, Some(Classification::SeedDependent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urandom_keyed_failure_is_nondeterministic() {
    require_python();
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
    assert!(
        (1..=5).contains(&confirmation.seeds.len()),
        "{confirmation:?}"
    );
    assert!(within_budget(confirmation), "{confirmation:?}");
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
    require_python();
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
    require_python();
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
    assert!(within_budget(confirmation), "{confirmation:?}");
    assert!(confirmation.alone_runs > 0, "{confirmation:?}");
    assert_eq!(confirmation.alone_failures, 0, "{confirmation:?}");
    assert!(confirmation.load_failures > 0, "{confirmation:?}");
    // Issue 20: contention is called only when an exact test at 1 % (divided among the
    // looks) says the load failures are not chance; with 8 runs' budget that may not be
    // reached, and the class is then not settled, never seed-dependent or nondeterministic.
    assert!(
        matches!(
            summary.classification,
            Some(Classification::ContentionDependent | Classification::NotSettled)
        ),
        "{:?} {confirmation:?}",
        summary.classification
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_false_skips_the_replays() {
    require_python();
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

/// Issue 10: a 40-run job with two rarely failing tests on different seeds. The default
/// budget used to replay one seed only, leaving the second test without a class; now every
/// flaky test gets a seed of its own replayed, within the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flaky_tests_in_a_small_job_are_both_classified() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    let summary = run_job(two_flaky_job()).await;
    assert_eq!(summary.failures, 9, "{summary:#?}");
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    // Rates 5/40 and 4/40 (the command 9/40, as high as 37 % at 95 %, for the seed that
    // covers it): 5 + 4 failing replays in a row tell them from chance at 1 % (issue 20).
    assert_eq!(confirmation.budget, 9, "{confirmation:?}");
    assert!(within_budget(confirmation), "{confirmation:?}");
    let flaky: Vec<_> = summary
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .collect();
    assert_eq!(flaky.len(), 2, "{flaky:#?}");
    for test in flaky {
        assert!(
            test.failing_seeds
                .iter()
                .any(|s| confirmation.seeds.contains(s)),
            "{} had none of its seeds replayed: {confirmation:?}",
            test.name
        );
        assert_eq!(
            test.classification,
            Some(Classification::SeedDependent),
            "{test:?}"
        );
    }
    assert_eq!(summary.classification, Some(Classification::SeedDependent));
}

fn two_flaky_job() -> serde_json::Value {
    json!({
        "repo": classify_fixture("two_flaky"),
        "test_command": "python3 -m pytest -q -p no:cacheprovider",
        "seeds": (1..=40).collect::<Vec<u64>>(),
        "parallelism": 4,
    })
}

/// Issue 10: every case of the classification corpus keeps its class under the default
/// budget, and no case replays more than its budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_keeps_its_classes_within_the_default_budget() {
    require_python();
    let repo = tempfile::tempdir().expect("repo dir");
    let lock_dir = tempfile::tempdir().expect("shared lock dir");
    let script = |name: &str| format!("python3 {}", classify_fixture(name));
    let cases = [
        (
            json!({"test_command": script("seeded.py"), "seeds": (1..=12).collect::<Vec<u64>>()}),
            Classification::SeedDependent,
        ),
        (
            json!({"test_command": script("urandom.py"), "runs": 20}),
            Classification::Nondeterministic,
        ),
        (
            // 20 runs, so the default budget is the full 30 replays. A loaded replay starts
            // after its fillers have taken the lock (see `Assessment::filler_lead`); started
            // with them, it won the race often enough (7 of 15 loaded replays failed in CI)
            // to leave the class not-settled.
            json!({"test_command": script("contention.py"), "runs": 20,
                   "env": {"FLAKY_LOCK_DIR": lock_dir.path()}}),
            Classification::ContentionDependent,
        ),
        (
            json!({"test_command": script("always.py"), "runs": 6}),
            Classification::AlwaysFailing,
        ),
    ];
    let mut jobs: Vec<(serde_json::Value, Classification)> = cases
        .into_iter()
        .map(|(mut job, class)| {
            job["repo"] = json!(repo.path());
            job["parallelism"] = json!(4);
            (job, class)
        })
        .collect();
    jobs.push((two_flaky_job(), Classification::SeedDependent));
    for (job, class) in jobs {
        let summary = run_job(job.clone()).await;
        assert_eq!(summary.classification, Some(class), "{job}: {summary:#?}");
        if let Some(confirmation) = &summary.confirmation {
            assert!(within_budget(confirmation), "{job}: {confirmation:?}");
        }
        for test in summary.tests.iter().filter(|t| t.verdict == Verdict::Flaky) {
            assert!(test.classification.is_some(), "{job}: {test:?}");
        }
    }
}

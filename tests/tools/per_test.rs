//! Per-test attribution from real runs (issue 4): each fixture has 20 tests of which two
//! are flaky, keyed on the seed, so the failing seeds of each are known exactly. The
//! detector must name those two and no other, with rates inside their intervals.

use crate::support::pertest as pertest_support;

use flaky_detector::analysis::Verdict;
use flaky_detector::summary::{Classification, Summary, TestCaseStats};
use pertest_support::{fixture, require_tool, run_job};
use serde_json::json;

fn flaky(summary: &Summary) -> Vec<&TestCaseStats> {
    summary
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .collect()
}

/// Asserts a flaky test's figures: exact failing seeds, rate, and the rate inside the
/// interval.
fn assert_flaky(test: &TestCaseStats, name: &str, runs: u32, failing_seeds: &[u64]) {
    assert_eq!(test.name, name);
    assert_eq!(test.runs, runs, "{name}");
    assert_eq!(test.failing_seeds, failing_seeds, "{name}");
    assert_eq!(test.failures as usize, failing_seeds.len(), "{name}");
    let rate = failing_seeds.len() as f64 / f64::from(runs);
    assert!((test.failure_rate - rate).abs() < 1e-3, "{name}: {test:?}");
    assert!(
        test.ci_low <= test.failure_rate && test.failure_rate <= test.ci_high,
        "{name}: {test:?}"
    );
    assert!(test.ci_low > 0.0 && test.ci_high < 1.0, "{name}: {test:?}");
}

fn assert_rest_stable(summary: &Summary, runs: u32) {
    for test in summary.tests.iter().filter(|t| t.verdict != Verdict::Flaky) {
        assert_eq!(test.verdict, Verdict::Stable, "{test:?}");
        assert_eq!(test.failures, 0, "{test:?}");
        assert!(test.runs <= runs && test.runs > 0, "{test:?}");
    }
}

fn seeds_where(seeds: &[u64], rule: impl Fn(u64) -> bool) -> Vec<u64> {
    seeds.iter().copied().filter(|s| rule(*s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytest_names_exactly_its_two_flaky_tests_and_confirms_them_seed_dependent() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    let seeds: Vec<u64> = (1..=24).collect();
    let summary = run_job(json!({
        "repo": fixture("pytest20"),
        "test_command": "python3 -m pytest -q -p no:cacheprovider",
        "seeds": seeds,
        "parallelism": 4,
    }))
    .await;

    assert_eq!(summary.tests.len(), 20, "{:#?}", summary.tests);
    let flaky = flaky(&summary);
    assert_eq!(flaky.len(), 2, "{flaky:#?}");
    // Flakiest first: 8 of 24 before 6 of 24.
    assert_flaky(
        flaky[0],
        "test_suite::test_07",
        24,
        &seeds_where(&seeds, |s| s % 3 == 0),
    );
    assert_flaky(
        flaky[1],
        "test_suite::test_15",
        24,
        &seeds_where(&seeds, |s| s % 4 == 1),
    );
    assert_eq!(
        flaky[0].first_failure.as_deref(),
        Some("AssertionError: seed 3 is a multiple of 3")
    );
    assert_eq!(
        flaky[1].first_failure.as_deref(),
        Some("RuntimeError: seed 1 hit the race in test_15")
    );
    assert_rest_stable(&summary, 24);

    // The command failed when either test did.
    let either = seeds_where(&seeds, |s| s % 3 == 0 || s % 4 == 1);
    assert_eq!(summary.failing_seeds, either);
    assert_eq!(summary.verdict, Verdict::Flaky);
    // 12 of 24: the interval reaches from the medium band into the high one.
    let note = summary.severity_note.as_deref().expect("a severity note");
    assert!(note.contains("spans medium to high"), "{note}");

    // Confirmation replayed failing seeds: both tests fail again on every replay.
    let confirmation = summary.confirmation.as_ref().expect("confirmation ran");
    assert!(!confirmation.seeds.is_empty() && confirmation.seeds.len() <= 5);
    assert_eq!(flaky[0].classification, Some(Classification::SeedDependent));
    assert_eq!(flaky[1].classification, Some(Classification::SeedDependent));
    assert_eq!(summary.classification, Some(Classification::SeedDependent));
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocha_names_exactly_its_two_flaky_tests() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let seeds: Vec<u64> = (1..=20).collect();
    let summary = run_job(json!({
        "repo": fixture("mocha20"),
        "test_command": "mocha",
        "seeds": seeds,
        "parallelism": 4,
        "confirm": false,
    }))
    .await;

    assert_eq!(
        summary.install.status,
        flaky_detector::framework::InstallStatus::Installed,
        "{:?}",
        summary.install
    );
    assert_eq!(summary.tests.len(), 20, "{:#?}", summary.tests);
    let flaky = flaky(&summary);
    assert_eq!(flaky.len(), 2, "{flaky:#?}");
    assert_flaky(
        flaky[0],
        "parser::handles case 4",
        20,
        &seeds_where(&seeds, |s| s % 2 == 0),
    );
    assert_flaky(
        flaky[1],
        "cache::keeps entry 12",
        20,
        &seeds_where(&seeds, |s| s % 5 == 0),
    );
    assert_eq!(
        flaky[1].first_failure.as_deref(),
        Some("entry evicted early at seed 5")
    );
    assert_rest_stable(&summary, 20);
    assert_eq!(summary.confirmation, None);
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_test_json_names_exactly_its_two_flaky_tests_and_keeps_output_readable() {
    require_tool("go", "apt-get install -y golang");
    let seeds: Vec<u64> = (1..=24).collect();
    let summary = run_job(json!({
        "repo": fixture("go20"),
        "test_command": "go test ./...",
        "seeds": seeds,
        "parallelism": 4,
        "confirm": false,
        "env": {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    }))
    .await;

    // Twenty tests, plus the parent `TestQueue` of the five `drain_*` subtests.
    assert_eq!(summary.tests.len(), 21, "{:#?}", summary.tests);
    let flaky = flaky(&summary);
    assert_eq!(flaky.len(), 2, "{flaky:#?}");
    assert_flaky(
        flaky[0],
        "example.com/flakyfixture::TestRetry06",
        24,
        &seeds_where(&seeds, |s| s % 3 == 2),
    );
    assert_flaky(
        flaky[1],
        "example.com/flakyfixture::TestQueue/drain_17",
        24,
        &seeds_where(&seeds, |s| s % 4 == 0),
    );
    assert_eq!(
        flaky[0].first_failure.as_deref(),
        Some("fixture_test.go:52: retry budget exhausted at seed 2")
    );
    assert_rest_stable(&summary, 24);

    // A failing run's stdout is what `go test -v` prints, rebuilt from the JSON events.
    let failed = summary
        .results
        .iter()
        .find(|r| !r.passed)
        .expect("a run failed");
    assert!(failed.stdout.contains("--- FAIL:"), "{}", failed.stdout);
    assert!(!failed.stdout.contains("\"Action\""), "{}", failed.stdout);
}

#[cfg_attr(
    not(has_nextest),
    ignore = "needs cargo-nextest (cargo install cargo-nextest --locked)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nextest_junit_names_exactly_its_two_flaky_tests() {
    require_tool("cargo-nextest", "cargo install cargo-nextest --locked");
    let seeds: Vec<u64> = (1..=12).collect();
    let summary = run_job(json!({
        "repo": fixture("nextest20"),
        "test_command": "cargo nextest run",
        "seeds": seeds,
        "parallelism": 3,
        "confirm": false,
    }))
    .await;

    // nextest stops at the first failure unless told otherwise; our tool config tells it,
    // so every test has a result in every run.
    assert_eq!(summary.tests.len(), 20, "{:#?}", summary.tests);
    let flaky = flaky(&summary);
    assert_eq!(flaky.len(), 2, "{flaky:#?}");
    assert_flaky(
        flaky[0],
        "nextest20::tests::parse_05",
        12,
        &seeds_where(&seeds, |s| s % 2 == 1),
    );
    assert_flaky(
        flaky[1],
        "nextest20::tests::cache_14",
        12,
        &seeds_where(&seeds, |s| s % 3 == 1),
    );
    assert_eq!(
        flaky[1].first_failure.as_deref(),
        Some("cache entry lost at seed 1")
    );
    assert_rest_stable(&summary, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_patterns_keep_a_flaky_test_out_of_the_verdicts() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    let repo = tempfile::tempdir().expect("repo dir");
    copy_dir(&fixture("pytest20"), repo.path());
    std::fs::write(
        repo.path().join(".flaky-detector.yml"),
        "ignore_patterns:\n  - \"*::test_15\"\n",
    )
    .expect("write config");
    // Seeds 1 and 5 fail only test_15; seed 3 fails only test_07.
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "python3 -m pytest -q -p no:cacheprovider",
        "seeds": [1, 2, 3, 4, 5],
        "parallelism": 2,
        "confirm": false,
    }))
    .await;
    assert_eq!(summary.tests.len(), 19);
    assert!(summary.tests.iter().all(|t| !t.name.ends_with("test_15")));
    assert_eq!(summary.failing_seeds, vec![3]);
    assert_eq!(summary.failures, 1);
    assert_eq!(summary.results.iter().filter(|r| !r.passed).count(), 3);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("ignore_patterns")),
        "{:?}",
        summary.warnings
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

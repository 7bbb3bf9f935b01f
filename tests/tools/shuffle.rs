//! Seeded order shuffling (`shuffle: true`): an order-dependent Go test passes in file
//! order, fails for the seeds whose shuffled order puts it first, and the reproduce line
//! replays that order.

use crate::support::pertest as pertest_support;

use flaky_detector::analysis::Verdict;
use flaky_detector::summary::Classification;
use pertest_support::{fixture, require_tool, run_job};
use serde_json::json;

const NAME: &str = "example.com/orderfixture::TestUsesSetup";

fn input(shuffle: bool) -> serde_json::Value {
    json!({
        "repo": fixture("go-order"),
        "test_command": "go test ./...",
        "seeds": (1..=16).collect::<Vec<u64>>(),
        "parallelism": 4,
        "shuffle": shuffle,
        "env": {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    })
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_shuffle_finds_an_order_dependent_test_and_replays_its_order() {
    require_tool("go", "apt-get install -y golang");
    let summary = run_job(input(true)).await;
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let test = summary
        .tests
        .iter()
        .find(|t| t.name == NAME)
        .expect("the order-dependent test is reported");
    assert_eq!(test.verdict, Verdict::Flaky, "{test:?}");
    // The order is a function of the seed: the same seed fails again, alone or not, and
    // the same seed in file order passes.
    assert_eq!(test.classification, Some(Classification::OrderDependent));
    assert_eq!(summary.classification, Some(Classification::OrderDependent));
    let flaky: Vec<&str> = summary
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(flaky, [NAME]);

    let seed = summary.failing_seeds[0];
    let reproduce = summary.reproduce.as_deref().expect("a reproduce line");
    let words = shlex::split(reproduce).expect("the reproduce line is shell words");
    let command: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| w.contains('='))
        .collect();
    assert_eq!(
        command,
        ["go", "test", &format!("-shuffle={seed}"), "./..."]
    );
    assert!(!reproduce.contains("-json"), "{reproduce}");

    // Pasted into a checkout, the line fails again.
    let cache = tempfile::tempdir().expect("go cache");
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(reproduce)
        .current_dir(fixture("go-order"))
        .env("GOCACHE", cache.path())
        .output()
        .expect("sh runs");
    assert!(
        !replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert!(String::from_utf8_lossy(&replay.stdout).contains("state was never initialised"));
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_shuffle_the_file_order_always_passes() {
    require_tool("go", "apt-get install -y golang");
    let summary = run_job(input(false)).await;
    assert_eq!(summary.verdict, Verdict::Stable, "{summary:#?}");
    assert_eq!(summary.tests.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytest_randomly_shuffles_when_the_project_installs_it() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    // The fixture's requirements.txt brings pytest-randomly (installed from PyPI into the
    // job's virtualenv); the detector finds it there and seeds it.
    let summary = run_job(json!({
        "repo": fixture("pytest-order"),
        "test_command": "python3 -m pytest -q -p no:cacheprovider",
        "seeds": (1..=16).collect::<Vec<u64>>(),
        "parallelism": 4,
        "shuffle": true,
        "confirm": false,
    }))
    .await;
    assert!(
        summary.warnings.iter().all(|w| !w.starts_with("shuffle:")),
        "{:?} {:?}",
        summary.warnings,
        summary.install
    );
    let flaky: Vec<&str> = summary
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(flaky, ["test_order::test_uses_setup"], "{summary:#?}");
    let seed = summary.failing_seeds[0];
    let reproduce = summary.reproduce.as_deref().expect("a reproduce line");
    let words = shlex::split(reproduce).expect("the reproduce line is shell words");
    let command: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| w.contains('='))
        .collect();
    let seed_flag = format!("--randomly-seed={seed}");
    assert_eq!(
        command,
        [
            "python3",
            "-m",
            "pytest",
            "-p",
            "randomly",
            &seed_flag,
            "-q",
            "-p",
            "no:cacheprovider"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffle_on_a_runner_without_seeded_order_is_a_warning() {
    require_tool("python3", "apt-get install -y python3");
    let repo = tempfile::tempdir().expect("repo dir");
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "python3 -c pass",
        "runs": 2,
        "shuffle": true,
    }))
    .await;
    assert_eq!(summary.verdict, Verdict::Stable);
    assert!(
        summary.warnings.iter().any(|w| w.starts_with("shuffle:")),
        "{:?}",
        summary.warnings
    );
}

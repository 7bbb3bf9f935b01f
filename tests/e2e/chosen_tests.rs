//! `tests` (`--test` on the command line): a job runs only the tests it names, through the
//! runner's own filter, and its reproduce line runs only them too.

use crate::support::pertest::run_job;
use crate::support::{Sandbox, project};
use flaky_detector::analysis::Verdict;
use serde_json::json;

/// Three tests: one fails for odd seeds, one always, one never.
fn pytest_project() -> tempfile::TempDir {
    project(&[(
        "tests/test_three.py",
        "import os\n\
         def test_odd_seeds():\n    assert int(os.environ['TEST_SEED']) % 2 == 0\n\
         def test_always():\n    assert False, 'broken'\n\
         def test_never():\n    pass\n",
    )])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pytest_job_runs_only_the_named_tests() {
    let repo = pytest_project();
    let summary = run_job(json!({
        "repo": repo.path(),
        "test_command": "python3 -m pytest -q tests",
        "seeds": [1, 2, 3, 4],
        "parallelism": 2,
        "confirm": false,
        "tests": ["tests.test_three::test_odd_seeds", "tests.test_three::test_not_there"],
    }))
    .await;
    let names: Vec<&str> = summary.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["tests.test_three::test_odd_seeds"], "{summary:#?}");
    assert_eq!(summary.verdict, Verdict::Flaky);
    assert_eq!(summary.failing_seeds, [1, 3]);
    // The always-failing test did not run: only the odd seeds failed.
    assert_eq!(summary.failures, 2);
}

#[test]
fn the_reproduce_line_of_a_chosen_test_runs_only_it() {
    let repo = pytest_project();
    let sandbox = Sandbox::new();
    let summary = sandbox.summary(&[
        "--repo",
        crate::support::path_str(repo.path()),
        "--command",
        "python3 -m pytest -q tests",
        "--seed",
        "3",
        "--no-confirm",
        "--test",
        "tests.test_three::test_odd_seeds",
    ]);
    let line = summary["reproduce"].as_str().expect("a reproduce line");
    let output = std::process::Command::new("sh")
        .args(["-c", line])
        .current_dir(repo.path())
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{line}\n{stdout}");
    assert!(
        stdout.contains("1 failed, 2 deselected"),
        "{line}\n{stdout}"
    );
}

#[test]
fn a_command_that_already_filters_by_name_is_refused_in_one_line() {
    let repo = project(&[("go.mod", "module example.com/m\n\ngo 1.19\n")]);
    let sandbox = Sandbox::new();
    let (output, _) = sandbox.run(&[
        "--repo",
        crate::support::path_str(repo.path()),
        "--command",
        "go test -run TestA ./...",
        "--test",
        "example.com/m::TestB",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "cannot be combined with a command that already chooses tests by name (-run)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

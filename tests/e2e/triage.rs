//! `triage` on pytest: a git repository made here with a base commit and a head commit, the
//! JUnit report of a real red run of the head as input, and one test per verdict.

use crate::support::pertest::run_job;
use crate::support::triage::{base_and_head, expected, verdicts};
use crate::support::{Sandbox, path_str};
use flaky_detector::report::markdown::{Body, GITHUB, Level, SLACK, render};
use flaky_detector::report::step_summary::annotations;
use serde_json::json;

fn module(head: bool) -> String {
    let mut src = String::from(
        "import os\nSEED = int(os.environ['TEST_SEED'])\n\n\
         def test_flaky_before():\n    assert SEED % 3 != 0\n\n\
         def test_ci_only():\n    assert os.environ.get('CI_ONLY') != '1'\n\n\
         def test_broken_both():\n    assert False, 'broken on main too'\n\n\
         def test_stable():\n    pass\n\n",
    );
    if head {
        src.push_str(
            "def test_regression():\n    assert 1 + 1 == 3\n\n\
             def test_new_flake():\n    assert SEED % 2 != 0\n\n\
             def test_brand_new():\n    assert False, 'new and failing'\n",
        );
    } else {
        src.push_str(
            "def test_regression():\n    assert 1 + 1 == 2\n\n\
             def test_new_flake():\n    pass\n",
        );
    }
    src
}

/// The repository, and the JUnit report of a red run of its head in CI (where `CI_ONLY=1`),
/// seed 6: every test of [`expected`] failed in it, `test_stable` passed.
fn red_repository() -> (tempfile::TempDir, String) {
    let repo = tempfile::tempdir().expect("repo dir");
    base_and_head(
        repo.path(),
        &[("tests/test_t.py", module(false))],
        &[("tests/test_t.py", module(true))],
        "__pycache__/\n.pytest_cache/\n*.xml\n",
    );
    crate::support::triage::git(repo.path(), &["checkout", "-q", "feature"]);
    let red = std::process::Command::new("python3")
        .args(["-m", "pytest", "-q", "--junitxml=red.xml", "tests"])
        .env("TEST_SEED", "6")
        .env("CI_ONLY", "1")
        .current_dir(repo.path())
        .output()
        .expect("pytest runs");
    assert!(!red.status.success(), "the red run is red");
    let junit = std::fs::read_to_string(repo.path().join("red.xml")).expect("the red run's JUnit");
    std::fs::remove_file(repo.path().join("red.xml")).expect("remove the report");
    crate::support::triage::git(repo.path(), &["checkout", "-q", "main"]);
    (repo, junit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_pytest_test_gets_its_verdict_from_the_red_runs_junit() {
    let (repo, junit) = red_repository();
    let summary = run_job(json!({
        "repo": repo.path(),
        "ref": "feature",
        "test_command": "python3 -m pytest -q tests",
        "seeds": (1..=12).collect::<Vec<u64>>(),
        "parallelism": 4,
        "triage": {"junit": junit, "max_runs": 12},
    }))
    .await;
    let triage = summary.triage.as_ref().expect("a triage report");
    assert_eq!(verdicts(&summary), expected(), "{triage:#?}");
    // Only the failing tests ran: the passing one is in no run's results.
    assert!(
        summary
            .tests
            .iter()
            .all(|t| !t.name.ends_with("test_stable"))
    );
    // The base is the merge base of feature and main, found without being named.
    assert!(
        triage
            .base
            .git_ref
            .contains("merge base of feature and main"),
        "{triage:#?}"
    );
    let by_name = |short: &str| {
        triage
            .tests
            .iter()
            .find(|t| t.test.ends_with(short))
            .expect("the test is triaged")
    };
    // A regression is settled once six runs a side agree, well before the budget.
    let regression = by_name("test_regression");
    assert_eq!(
        (regression.head.failures, regression.base.failures),
        (regression.head.runs, 0)
    );
    assert!(regression.settled_after < 12, "{regression:?}");
    // Could not reproduce: the whole budget, and what it rules out.
    let ci_only = by_name("test_ci_only");
    assert_eq!(ci_only.head.runs, 12);
    assert!(
        ci_only.evidence.contains("fewer than 22 %"),
        "{}",
        ci_only.evidence
    );
    assert_eq!(triage.head_runs, 12);
    // The PR comment leads with the verdicts; Slack lists them; annotations mark the
    // change's faults as errors and the rest as warnings or notices.
    let body = Body::of(&summary);
    let comment = render(&body, GITHUB, Level::Full);
    assert!(
        comment.contains("![triage: 3 caused by this change]"),
        "{comment}"
    );
    let table = comment
        .find("| Verdict | Test |")
        .expect("a table of verdicts");
    assert!(
        table < comment.find("The runs at head").expect("then the runs"),
        "{comment}"
    );
    assert!(
        comment.contains("| **regression** | `tests.test_t::test_regression` |"),
        "{comment}"
    );
    assert!(comment.contains("Triage: 2 regression, 1 flaky before this change, 1 new flake, 1 could not reproduce, 1 broken at base too"), "{comment}");
    let slack = render(&body, SLACK, Level::Full);
    assert!(
        slack.contains("- *flaky before this change* `tests.test_t::test_flaky_before`"),
        "{slack}"
    );
    let marks = annotations(&summary);
    assert!(
        marks
            .iter()
            .any(|m| m
                .starts_with("::error title=Regression%3A tests.test_t%3A%3Atest_regression::")),
        "{marks:#?}"
    );
    assert!(
        marks
            .iter()
            .any(|m| m.starts_with("::warning title=Flaky before this change")),
        "{marks:#?}"
    );
    let validator = crate::schemas::schema("summary.schema.json");
    let value = serde_json::to_value(&summary).expect("serialises");
    crate::schemas::assert_valid(&validator, &value, "a triage summary");
}

/// `flaky-detector triage` of `repo`'s `feature` against `main`, at most 6 runs a side,
/// with `args` choosing the tests and the output.
fn triage_cli(sandbox: &Sandbox, repo: &std::path::Path, args: &[&str]) -> std::process::Output {
    sandbox
        .command()
        .args([
            "triage",
            "--repo",
            path_str(repo),
            "--ref",
            "feature",
            "--base",
            "main",
            "--command",
            "python3 -m pytest -q tests",
            "--max-runs",
            "6",
        ])
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn the_cli_fails_on_a_regression_and_prints_the_verdicts_first() {
    let (repo, junit) = red_repository();
    let junit_file = repo.path().join("..").join(format!(
        "red-{}.xml",
        repo.path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
    ));
    std::fs::write(&junit_file, junit).expect("write the JUnit file");
    let sandbox = Sandbox::new();
    let output = triage_cli(
        &sandbox,
        repo.path(),
        &[
            "--from-junit",
            path_str(&junit_file),
            "--fail-on",
            "regression",
        ],
    );
    let _ = std::fs::remove_file(&junit_file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("TRIAGE: head feature"), "{stdout}");
    assert!(
        stdout.contains("regression                 tests.test_t::test_regression"),
        "{stdout}"
    );
}

#[test]
fn a_junit_without_failures_is_refused_in_one_line() {
    let repo = tempfile::tempdir().expect("repo dir");
    let junit = repo.path().join("green.xml");
    std::fs::write(
        &junit,
        "<testsuite tests=\"1\"><testcase classname=\"t\" name=\"ok\"/></testsuite>",
    )
    .expect("write");
    let output = Sandbox::new()
        .command()
        .args([
            "triage",
            "--repo",
            path_str(repo.path()),
            "--base",
            "main",
            "--from-junit",
            path_str(&junit),
            "--command",
            "pytest",
        ])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("triage.junit holds no failed test case"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// The same job as a job input through `serve` (RunPod's endpoint API): the output is the
/// summary with its `triage`.
#[tokio::test]
async fn serve_runs_a_triage_job_input() {
    use crate::support::runpod::server::Server;
    let (repo, junit) = red_repository();
    let server = Server::start(&["--allow-local-repos"]).await;
    let (code, queued) = server
        .post(
            "/run",
            &json!({"input": {
                "repo": repo.path(),
                "ref": "feature",
                "test_command": "python3 -m pytest -q tests",
                "parallelism": 4,
                "triage": {"junit": junit, "base_ref": "main", "max_runs": 6},
            }}),
        )
        .await;
    assert_eq!(code.as_u16(), 200, "{queued}");
    let id = queued["id"].as_str().expect("an id");
    let done = server.wait_status(id, "COMPLETED").await;
    let tests = done["output"]["triage"]["tests"]
        .as_array()
        .expect("verdicts");
    let regression = tests
        .iter()
        .find(|t| t["test"] == "tests.test_t::test_regression")
        .expect("the regression is triaged");
    assert_eq!(regression["verdict"], "regression", "{done}");
    assert_eq!(done["output"]["triage"]["base"]["ref"], "main");
}

/// A test history already knew as flaky is named so: the triage says in how many recorded
/// jobs it was flaky, from a real SQLite history written by an earlier `run`.
#[test]
fn a_pre_existing_flake_is_named_with_its_history() {
    let (repo, _) = red_repository();
    let sandbox = Sandbox::new();
    let db = sandbox.root.path().join("history.db");
    let earlier = sandbox.summary(&[
        "--repo",
        path_str(repo.path()),
        "--ref",
        "main",
        "--command",
        "python3 -m pytest -q tests",
        "--seed",
        "1,2,3,4,5,6",
        "--no-confirm",
        "--db",
        path_str(&db),
    ]);
    assert_eq!(earlier["verdict"], "always-failing", "{earlier}");
    let output = triage_cli(
        &sandbox,
        repo.path(),
        &[
            "--test",
            "tests.test_t::test_flaky_before",
            // Seeds 1-6 hold two multiples of 3 (the test's failures) on both sides.
            "--seed",
            "1,2,3,4,5,6",
            "--json",
            "--db",
            path_str(&db),
        ],
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)));
    let test = &summary["triage"]["tests"][0];
    assert_eq!(test["verdict"], "flaky-before", "{summary}");
    let history = test["history"].as_str().expect("history named");
    assert!(
        history.starts_with("history: flaky in 1 of 1 recorded jobs, failed 2 of 6 runs"),
        "{history}"
    );
}

//! Right answers on commands that fail beyond their tests, run through wrappers, or hang
//! (issue 11, items 1–3), on fixture repositories written into temp dirs: a real pytest-cov
//! coverage gate, a collection error and a missing module, pytest behind `make test`, `go
//! test` behind a shell script (read from its console), and a test that hangs.

use crate::support::pertest as pertest_support;

use std::path::Path;

use flaky_detector::analysis::Verdict;
use flaky_detector::analysis::command_failure::FailureKind;
use flaky_detector::summary::{Classification, Summary};
use pertest_support::{require_tool, run_job};
use serde_json::{Value, json};

/// Writes `files` (path, text) under a new temp dir and returns it.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write a fixture file");
    }
    dir
}

fn input(dir: &Path, command: &str, seeds: &[u64], extra: Value) -> Value {
    let mut input = json!({
        "repo": dir.display().to_string(),
        "test_command": command,
        "seeds": seeds,
        "runs": seeds.len(),
        "parallelism": 4,
        "confirm": false,
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    input
}

fn require_pytest() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    )
}

/// Three tests, one failing when the seed is a multiple of 3.
const FLAKY_TESTS: &str = "import os\n\
from calc import add\n\
SEED = int(os.environ['TEST_SEED'])\n\
def test_add():\n    assert add(1, 2) == 3\n\
def test_add_zero():\n    assert add(0, 5) == 5\n\
def test_flaky():\n    assert SEED % 3 != 0, f'seed {SEED} is a multiple of 3'\n";

/// `add` is covered; the rest never runs, so coverage stays far below 95 %.
const CALC: &str = "def add(a, b):\n    return a + b\n\n\
def unused(x):\n    if x > 1:\n        return x * 2\n    if x < -1:\n        return -x\n    return 0\n\n\
def unused_too(items):\n    total = 0\n    for item in items:\n        total += item\n    return total\n";

fn human(summary: &Summary) -> String {
    flaky_detector::cli::human::render(summary)
}

#[cfg_attr(
    not(has_pytest_cov),
    ignore = "needs pytest-cov (pip install pytest-cov)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coverage_gate_is_a_command_failure_and_the_verdict_follows_the_tests() {
    require_pytest();
    let dir = repo(&[
        ("calc.py", CALC),
        ("tests/test_calc.py", FLAKY_TESTS),
        (
            "pytest.ini",
            "[pytest]\naddopts = --cov=calc --cov-fail-under=95\npythonpath = .\n",
        ),
    ]);
    let seeds: Vec<u64> = (1..=12).collect();
    let summary = run_job(input(
        dir.path(),
        "python3 -m pytest -q -p no:cacheprovider",
        &seeds,
        json!({}),
    ))
    .await;
    let text = human(&summary);

    // Every run exits 1 (the gate), but only the seeds that fail a test count.
    assert!(summary.results.iter().all(|r| !r.passed), "{text}");
    assert_eq!(summary.verdict, Verdict::Flaky, "{text}");
    assert_eq!(summary.failing_seeds, vec![3, 6, 9, 12], "{text}");
    let flaky: Vec<_> = summary
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .collect();
    assert_eq!(flaky.len(), 1, "{text}");
    assert_eq!(flaky[0].name, "tests.test_calc::test_flaky");
    let failure = summary.command_failure.as_ref().expect("a command failure");
    assert_eq!(failure.kind, FailureKind::CoverageGate, "{failure:?}");
    assert_eq!(failure.runs, 12, "{failure:?}");
    assert!(
        failure
            .cause
            .starts_with("FAIL Required test coverage of 95% not reached. Total coverage:"),
        "{failure:?}"
    );
    let headline = text.lines().next().expect("a headline");
    assert!(
        headline.contains("1 flaky test; the command also fails on every run (coverage gate): FAIL Required test coverage of 95% not reached"),
        "{headline}"
    );
    assert!(!text.contains("ALWAYS FAILING"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_error_and_a_missing_module_are_told_apart_from_flakiness() {
    require_pytest();
    let broken = repo(&[
        ("tests/test_ok.py", "def test_ok():\n    assert True\n"),
        ("tests/test_broken.py", "def test_broken(:\n    pass\n"),
        ("pytest.ini", "[pytest]\n"),
    ]);
    let seeds: Vec<u64> = (1..=4).collect();
    let summary = run_job(input(
        broken.path(),
        "python3 -m pytest -q -p no:cacheprovider",
        &seeds,
        json!({}),
    ))
    .await;
    let text = human(&summary);
    assert_eq!(summary.verdict, Verdict::AlwaysFailing, "{text}");
    assert_eq!(
        summary.classification,
        Some(Classification::CollectionError),
        "{text}"
    );
    let error = summary.first_error.as_deref().expect("a first error");
    assert!(
        error.starts_with("ERROR collecting tests/test_broken.py: SyntaxError"),
        "{error}"
    );
    assert!(summary.tests.is_empty(), "{:?}", summary.tests);
    assert!(
        text.contains("before any test ran (collection-error)"),
        "{text}"
    );

    let missing = repo(&[
        ("tests/test_ok.py", "def test_ok():\n    assert True\n"),
        (
            "tests/test_needs.py",
            "import flaky_detector_absent_module\n\ndef test_needs():\n    assert True\n",
        ),
        ("pytest.ini", "[pytest]\n"),
    ]);
    let summary = run_job(input(
        missing.path(),
        "python3 -m pytest -q -p no:cacheprovider",
        &seeds,
        json!({}),
    ))
    .await;
    assert_eq!(
        summary.classification,
        Some(Classification::MissingDependency),
        "{}",
        human(&summary)
    );
    assert_eq!(
        summary.first_error.as_deref(),
        Some(
            "ERROR collecting tests/test_needs.py: ModuleNotFoundError: No module named 'flaky_detector_absent_module'"
        )
    );
}

#[cfg_attr(not(has_make), ignore = "needs make (apt-get install make)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytest_behind_make_test_reports_each_test() {
    require_pytest();
    require_tool("make", "apt-get install -y make");
    let dir = repo(&[
        ("calc.py", CALC),
        ("tests/test_calc.py", FLAKY_TESTS),
        ("pytest.ini", "[pytest]\npythonpath = .\n"),
        (
            "Makefile",
            "test:\n\tpython3 -m pytest -q -p no:cacheprovider tests\n",
        ),
    ]);
    let seeds: Vec<u64> = (1..=9).collect();
    let summary = run_job(input(dir.path(), "make test", &seeds, json!({}))).await;
    let text = human(&summary);
    assert_eq!(summary.tests.len(), 3, "{text}");
    let flaky = &summary.tests[0];
    assert_eq!(flaky.name, "tests.test_calc::test_flaky", "{text}");
    assert_eq!(flaky.failing_seeds, vec![3, 6, 9], "{text}");
    assert_eq!(flaky.runs, 9, "{text}");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_test_behind_a_script_is_read_from_its_console() {
    require_tool("go", "apt-get install -y golang");
    let dir = repo(&[
        ("go.mod", "module example.com/m\n\ngo 1.21\n"),
        (
            "m_test.go",
            "package m\n\nimport (\n\t\"os\"\n\t\"strconv\"\n\t\"testing\"\n)\n\n\
func seed() int {\n\tn, _ := strconv.Atoi(os.Getenv(\"TEST_SEED\"))\n\treturn n\n}\n\n\
func TestStable(t *testing.T) {}\n\n\
func TestFlaky(t *testing.T) {\n\tif seed()%4 == 1 {\n\t\tt.Fatalf(\"seed %d\", seed())\n\t}\n}\n",
        ),
        ("run-tests.sh", "#!/bin/sh\nexec go test -count=1 ./...\n"),
    ]);
    let seeds: Vec<u64> = (1..=8).collect();
    let summary = run_job(input(dir.path(), "sh run-tests.sh", &seeds, json!({}))).await;
    let text = human(&summary);
    assert_eq!(summary.failing_seeds, vec![1, 5], "{text}");
    assert_eq!(summary.tests.len(), 1, "{text}");
    let flaky = &summary.tests[0];
    assert_eq!(flaky.name, "example.com/m::TestFlaky", "{text}");
    assert_eq!(flaky.verdict, Verdict::Flaky, "{text}");
    // Passing runs print no test names; they count as passes of the known test.
    assert_eq!((flaky.failures, flaky.runs), (2, 8), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_test_is_named_with_class_timeout() {
    require_pytest();
    let dir = repo(&[
        (
            "tests/test_wait.py",
            "import os, time\nSEED = int(os.environ['TEST_SEED'])\n\
def test_quick():\n    assert True\n\
def test_waits_for_the_lock():\n    if SEED % 8 == 0:\n        time.sleep(600)\n\
def test_after():\n    assert True\n",
        ),
        ("pytest.ini", "[pytest]\n"),
    ]);
    let seeds: Vec<u64> = (1..=8).collect();
    let summary = run_job(input(
        dir.path(),
        "python3 -m pytest -q -p no:cacheprovider",
        &seeds,
        json!({ "timeout": 30, "confirm": true, "parallelism": 2 }),
    ))
    .await;
    let text = human(&summary);
    assert_eq!(summary.timeouts, 1, "{text}");
    assert_eq!(summary.failing_seeds, vec![8], "{text}");
    let hung = summary
        .tests
        .iter()
        .find(|t| t.failures > 0)
        .expect("the hung test is named");
    assert_eq!(
        hung.name, "tests.test_wait::test_waits_for_the_lock",
        "{text}"
    );
    assert_eq!(hung.failing_seeds, vec![8], "{text}");
    assert_eq!(hung.classification, Some(Classification::Timeout), "{text}");
    assert!(
        hung.first_failure
            .as_deref()
            .is_some_and(|m| m.starts_with("hung: still running")),
        "{text}"
    );
    // The hanging seed hung again on replay: the job's class says so.
    assert_eq!(
        summary.classification,
        Some(Classification::Timeout),
        "{text}"
    );
    assert!(text.contains("timeout"), "{text}");
}

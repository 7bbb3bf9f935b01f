//! `--junit FILE` and `junit: true` on real jobs (issue 26, item 1): a pytest project with
//! one test failing by seed, one always failing and one passing, run by the real binary; its
//! JUnit report read by a real consumer (`junitparser`'s xunit2 model) and checked against
//! Maven Surefire's XSD with `xmllint`, a bad path refused in one line with nothing else
//! lost, and the report returned in the output of a job input that asks for it (local test
//! mode, the RunPod worker and `serve`).

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::runpod::fixture::{input, odd_seeds_fail};
use support::runpod::platform::FakePlatform;
use support::runpod::process::Process;
use support::runpod::server::Server;
use support::runpod::worker::stop_worker;
use support::{Sandbox, path_str, project};

/// `test_flaky` fails for seeds that are multiples of 3, `test_broken` always, `test_ok`
/// never.
const MIXED: &str = r#"
import os

SEED = int(os.environ["TEST_SEED"])


def test_ok():
    assert 1 + 1 == 2


def test_flaky():
    assert SEED % 3 != 0, f"seed {SEED} is a multiple of 3"


def test_broken():
    assert 1 + 1 == 3, "always broken"
"#;

const COMMAND: &str = "pytest -q -p no:cacheprovider tests";

/// Runs of seeds 1-6: `test_flaky` fails in attempts 2 and 5 (seeds 3 and 6).
const SEEDS: &str = "1,2,3,4,5,6";

fn fixture_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name)
}

/// A real job over [`MIXED`] with `--junit`; returns the sandbox (which holds the file) and
/// the report's path.
fn junit_of_a_real_job() -> (Sandbox, PathBuf) {
    let repo = project(&[("tests/test_mixed.py", MIXED)]);
    let sandbox = Sandbox::new();
    let report = sandbox.root.path().join("junit.xml");
    let summary = sandbox.summary(&[
        "--repo",
        path_str(repo.path()),
        "--command",
        COMMAND,
        "--seed",
        SEEDS,
        "--parallelism",
        "3",
        "--no-confirm",
        "--junit",
        path_str(&report),
    ]);
    assert_eq!(summary["total_runs"], 6, "{summary}");
    (sandbox, report)
}

#[test]
#[cfg_attr(
    not(has_junitparser),
    ignore = "needs junitparser (python3 -m pip install junitparser)"
)]
fn junitparser_reads_the_flaky_test_as_passed_with_its_failed_attempts() {
    let (_sandbox, report) = junit_of_a_real_job();
    let output = std::process::Command::new("python3")
        .arg(fixture_file("read_junit.py"))
        .arg(&report)
        .output()
        .expect("python3 starts");
    assert!(
        output.status.success(),
        "junitparser could not read the report: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let suites: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let suite = &suites[0];
    // A flaky test is not a failure; the broken one is the only one.
    assert_eq!(
        (
            &suite["tests"],
            &suite["failures"],
            &suite["errors"],
            &suite["skipped"]
        ),
        (&json!(3), &json!(1), &json!(0), &json!(0)),
        "{suite}"
    );
    let case = |name: &str| -> &Value {
        suite["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name} in {suite}"))
    };
    // Named as pytest's own JUnit names them, so CI matches the two.
    for name in ["test_ok", "test_flaky", "test_broken"] {
        assert_eq!(case(name)["classname"], "tests.test_mixed", "{name}");
    }

    let flaky = case("test_flaky");
    assert_eq!(flaky["passed"], true, "{flaky}");
    assert_eq!(flaky["results"], json!([]), "{flaky}");
    let attempts = flaky["flaky"].as_array().expect("flaky attempts");
    assert_eq!(attempts.len(), 2, "{flaky}");
    for (attempt, (number, seed)) in attempts.iter().zip([(2, 3), (5, 6)]) {
        let message = attempt["message"].as_str().expect("a message");
        assert!(
            message.starts_with(&format!("attempt {number}, seed {seed}, ")),
            "{message}"
        );
        let trace = attempt["stack_trace"].as_str().expect("a stack trace");
        assert!(
            trace.contains(&format!("seed {seed} is a multiple of 3")),
            "the attempt's own output: {trace}"
        );
        assert!(attempt["system_out"].is_string(), "{attempt}");
    }

    let broken = case("test_broken");
    assert_eq!(broken["passed"], false, "{broken}");
    assert_eq!(broken["results"], json!(["failure"]), "{broken}");
    assert_eq!(
        broken["reruns"].as_array().map(Vec::len),
        Some(5),
        "{broken}"
    );
    assert_eq!(broken["flaky"], json!([]), "{broken}");

    let ok = case("test_ok");
    assert_eq!(
        (&ok["passed"], &ok["flaky"], &ok["reruns"]),
        (&json!(true), &json!([]), &json!([]))
    );
}

#[test]
#[cfg_attr(
    not(has_xmllint),
    ignore = "needs xmllint (apt-get install libxml2-utils)"
)]
fn the_report_of_a_real_job_is_valid_against_surefires_schema() {
    let (_sandbox, report) = junit_of_a_real_job();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixture_file("surefire-test-report-3.0.xsd"))
        .arg(&report)
        .output()
        .expect("xmllint starts");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&report).unwrap_or_default()
    );
}

#[test]
fn a_junit_path_that_cannot_be_written_is_one_line_and_loses_nothing_else() {
    let repo = project(&[("tests/test_mixed.py", MIXED)]);
    let sandbox = Sandbox::new();
    let output_file = sandbox.root.path().join("summary.json");
    let missing = sandbox.root.path().join("no-such-dir").join("junit.xml");
    let (output, summary) = sandbox.run(&[
        "--repo",
        path_str(repo.path()),
        "--command",
        COMMAND,
        "--seed",
        "1,3",
        "--no-confirm",
        "--output",
        path_str(&output_file),
        "--junit",
        path_str(&missing),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = format!(
        "error: cannot write the JUnit report to {}: No such file or directory (os error 2)\n",
        missing.display()
    );
    assert!(stderr.ends_with(&line), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    let summary = summary.expect("the summary is still printed");
    assert_eq!(summary["total_runs"], 2);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&output_file).expect("--output written"))
            .expect("JSON");
    assert_eq!(written["failing_seeds"], summary["failing_seeds"]);
}

#[test]
fn a_job_input_with_junit_true_gets_the_report_in_its_output() {
    let repo = project(&[("tests/test_mixed.py", MIXED)]);
    let sandbox = Sandbox::new();
    let local_test = |junit: Option<bool>| -> Value {
        let mut job = json!({
            "repo": path_str(repo.path()),
            "test_command": COMMAND,
            "seeds": [1, 3],
            "confirm": false,
        });
        if let Some(junit) = junit {
            job["junit"] = json!(junit);
        }
        let output = sandbox
            .command()
            .arg("--test_input")
            .arg(json!({ "input": job }).to_string())
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON")
    };
    let with = local_test(Some(true));
    let xml = with["output"]["junit_xml"].as_str().expect("junit_xml");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="test_flaky" classname="tests.test_mixed""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<flakyFailure message="attempt 1, seed 3, "#),
        "{xml}"
    );
    for without in [local_test(None), local_test(Some(false))] {
        assert!(without["output"].get("junit_xml").is_none(), "{without}");
        assert_eq!(without["output"]["failing_seeds"], json!([1, 3]));
    }
}

#[tokio::test]
async fn the_worker_returns_the_report_when_the_job_asks_for_it() {
    let platform = FakePlatform::start().await;
    let repo = odd_seeds_fail("0");
    let mut job = input(repo.path(), &[1, 2, 3, 4]);
    job["junit"] = json!(true);
    platform.push_job("with-junit", job);
    let mut env = platform.env();
    env.push(("FLAKY_ALLOW_LOCAL_REPOS".into(), "1".into()));
    let worker = Process::spawn(&["worker"], &env);

    let result = platform.delivered_result("with-junit").await;
    let xml = result["output"]["junit_xml"]
        .as_str()
        .unwrap_or_else(|| panic!("no junit_xml in {result}"));
    // No per-test report from a shell script: the command is the test case, and its two
    // failed runs (seeds 1 and 3) are the attempts of a flaky case.
    assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<flakyFailure ").count(), 2, "{xml}");
    assert!(
        xml.contains(r#"tests="1" errors="0" skipped="0" failures="0""#),
        "{xml}"
    );
    stop_worker(worker).await;
}

#[tokio::test]
async fn serve_returns_the_report_when_the_job_asks_for_it() {
    let server = Server::start(&["--allow-local-repos"]).await;
    let repo = odd_seeds_fail("0");
    let mut job = input(repo.path(), &[2, 4]);
    job["junit"] = json!(true);
    let (code, done) = server.post("/runsync", &json!({ "input": job })).await;
    assert_eq!(code, reqwest::StatusCode::OK, "{done}");
    let xml = done["output"]["junit_xml"]
        .as_str()
        .unwrap_or_else(|| panic!("no junit_xml in {done}"));
    // Both runs passed: one plain test case for the command.
    assert!(
        xml.contains(r#"<testcase name="sh test.sh" classname="flaky-detector" time=""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"tests="1" errors="0" skipped="0" failures="0""#),
        "{xml}"
    );
    assert!(!xml.contains("Failure"), "{xml}");
}

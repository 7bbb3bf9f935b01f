//! Fixed summaries for report tests: the shapes a job ends in (stable, flaky with two
//! tests, always failing, a failed install, timeouts), built here with fixed figures and
//! no timestamps, so snapshots of their reports are stable.

use flaky_detector::Summary;
use serde_json::{Value, json};

fn result(attempt: u32, seed: u64, passed: bool, stderr: &str) -> Value {
    json!({
        "attempt": attempt, "exit_code": if passed { 0 } else { 1 }, "stdout": "",
        "stderr": stderr, "passed": passed, "seed": seed, "duration_ms": 1200,
        "timed_out": false,
    })
}

fn base() -> Value {
    json!({
        "total_runs": 40, "parallelism": 4, "framework": "python", "failures": 0,
        "repro_rate": 0.0, "results": [result(0, 11, true, "")],
        "verdict": "stable", "severity": "none", "ci_low": 0.0, "ci_high": 0.088,
        "runs_requested": 40, "runs_saved": 0, "timeouts": 0, "failing_seeds": [],
        "tests": [], "runs_needed": 299,
        "thresholds": {"critical": 0.9, "high": 0.5, "medium": 0.1, "low": 0.01},
        "install": {"status": "cached", "framework": "python",
                    "command": "pip install -r requirements.txt", "duration_ms": 830},
        "repo": "https://github.com/o/r", "ref": "abc1234def5678abc1234def5678abc1234def56",
        "commit": "abc1234def5678abc1234def5678abc1234def56",
        "test_command": "pytest -q tests", "pr_number": 7,
        "commit_sha": "abc1234def5678abc1234def5678abc1234def56",
        "duration_seconds": 21.5,
    })
}

fn test_case(
    name: &str,
    figures: (u32, u32, f64, f64, f64),
    seeds: &[u64],
    verdict: &str,
    severity: &str,
) -> Value {
    let (runs, failures, rate, low, high) = figures;
    json!({
        "name": name, "runs": runs, "failures": failures, "failure_rate": rate,
        "ci_low": low, "ci_high": high, "failing_seeds": seeds, "verdict": verdict,
        "severity": severity,
    })
}

/// A summary of the given shape: `stable`, `flaky`, `always-failing`, `install-failure`
/// or `timeouts`.
pub fn summary(kind: &str) -> Summary {
    let mut s = base();
    let fields = match kind {
        "stable" => json!({
            "tests": [test_case("tests/test_api.py::test_get", (40, 0, 0.0, 0.0, 0.088), &[], "stable", "none")],
        }),
        "flaky" => {
            let mut a = test_case(
                "tests/test_api.py::test_retry",
                (40, 5, 0.125, 0.055, 0.261),
                &[3, 17, 23, 31, 38],
                "flaky",
                "medium",
            );
            a["classification"] = json!("seed-dependent");
            a["first_failure"] = json!("AssertionError: expected 3 retries, got 2");
            let mut b = test_case(
                "tests/test_db.py::test_pool|size",
                (40, 2, 0.05, 0.014, 0.165),
                &[17, 29],
                "flaky",
                "low",
            );
            b["classification"] = json!("contention-dependent");
            b["first_failure"] = json!("TimeoutError: pool exhausted");
            json!({
                "failures": 7, "repro_rate": 0.175, "verdict": "flaky", "severity": "medium",
                "ci_low": 0.087, "ci_high": 0.32, "failing_seeds": [3, 17, 23, 29, 31, 38, 40],
                "classification": "seed-dependent",
                "severity_note": "the 95% interval 8.7%-32.0% spans low to medium severity; more runs would narrow it",
                "results": [
                    result(0, 1, true, ""),
                    result(1, 3, false, "tests/test_api.py F\nE   AssertionError: expected 3 retries, got 2\n1 failed, 4 passed"),
                ],
                "tests": [a, b, test_case("tests/test_api.py::test_get", (40, 0, 0.0, 0.0, 0.088), &[], "stable", "none")],
                "confirmation": {"seeds": [3, 17], "alone_runs": 6, "alone_failures": 5, "load_runs": 6, "load_failures": 6},
                "reproduce": "FLAKY_SEED=3 TEST_SEED=3 PYTHONHASHSEED=3 pytest -q tests",
            })
        }
        "always-failing" => json!({
            "total_runs": 10, "runs_requested": 10, "failures": 10, "repro_rate": 1.0,
            "verdict": "always-failing", "severity": "critical", "ci_low": 0.722, "ci_high": 1.0,
            "failing_seeds": [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
            "classification": "always-failing",
            "first_error": "ModuleNotFoundError: No module named 'requests'",
            "results": [result(0, 5, false, "ImportError while loading conftest\nModuleNotFoundError: No module named 'requests'")],
            "reproduce": "FLAKY_SEED=5 TEST_SEED=5 PYTHONHASHSEED=5 pytest -q tests",
            "runs_saved": 0,
        }),
        "install-failure" => json!({
            "total_runs": 1, "runs_requested": 10, "failures": 1, "repro_rate": 1.0,
            "verdict": "install-failed", "severity": "none", "ci_low": 0.025, "ci_high": 1.0,
            "failing_seeds": [],
            "classification": "missing-dependency",
            "first_error": "pip install -r requirements.txt failed on nosuchpkg==9.9: could not find a version that satisfies the requirement nosuchpkg==9.9 (from versions: none) (with Python 3.11.7)",
            "install": {"status": "failed", "framework": "python",
                        "command": "pip install -r requirements.txt", "duration_ms": 4100,
                        "detail": "pip install -r requirements.txt exited with status 1",
                        "failed_step": "pip install -r requirements.txt",
                        "package": "nosuchpkg==9.9",
                        "reason": "could not find a version that satisfies the requirement nosuchpkg==9.9 (from versions: none)",
                        "toolchain": "Python 3.11.7",
                        "way_out": "pin versions that exist for this Python in `requirements.txt`, or set `python`, `extra_packages` or `install_command` in .flaky-detector.yml",
                        "probe_error": "ERROR collecting tests/test_api.py: ModuleNotFoundError: No module named 'nosuchpkg'",
                        "output_tail": "ERROR: Could not find a version that satisfies the requirement nosuchpkg==9.9 (from versions: none)\nERROR: No matching distribution found for nosuchpkg==9.9\n"},
            "results": [result(0, 1, false, "E   ModuleNotFoundError: No module named 'nosuchpkg'")],
        }),
        "timeouts" => json!({
            "total_runs": 20, "runs_requested": 20, "failures": 3, "repro_rate": 0.15,
            "verdict": "flaky", "severity": "medium", "ci_low": 0.052, "ci_high": 0.36,
            "timeouts": 3, "failing_seeds": [4, 9, 15],
            "results": [
                result(0, 1, true, ""),
                {"attempt": 1, "exit_code": null, "stdout": "", "stderr": "waiting for lock...",
                 "passed": false, "seed": 4, "duration_ms": 30000, "timed_out": true, "signal": 9},
            ],
            "warnings": ["20 of 20 run(s) wrote no test report; their results count for the whole command only"],
            "reproduce": "FLAKY_SEED=4 TEST_SEED=4 PYTHONHASHSEED=4 pytest -q tests",
        }),
        other => panic!("no summary of kind {other}"),
    };
    if let (Value::Object(base), Value::Object(fields)) = (&mut s, fields) {
        base.extend(fields);
    }
    serde_json::from_value(s).expect("a valid summary")
}

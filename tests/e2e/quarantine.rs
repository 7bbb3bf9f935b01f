//! Issue 26's quarantine round trip with pytest, through the real binary: jobs recorded in a
//! real SQLite file, `quarantine` writes the file (the flaky tests in, the broken one never),
//! pytest run with `quarantine --apply-args pytest` exits 0 although a quarantined test
//! fails, and a test recorded `fixed` leaves the file.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::quarantine::{listed, quarantine, record_job, run_applied, seeds};
use support::{Sandbox, project};

/// Two tests failing for seeds that are multiples of 3; `test_to_fix` stops failing once
/// the file `tests/FIXED` exists.
const SEEDED: &str = r#"
import os
from pathlib import Path

SEED = int(os.environ.get("TEST_SEED", "0"))


def test_stable():
    assert 1 + 1 == 2


def test_flaky():
    assert SEED % 3 != 0, f"seed {SEED} is a multiple of 3"


def test_to_fix():
    fixed = (Path(__file__).parent / "FIXED").exists()
    assert fixed or SEED % 3 != 0, f"seed {SEED} is a multiple of 3"
"#;

const BROKEN: &str = r#"
def test_broken():
    assert False, "broken for every seed"
"#;

/// fixed_below 0.2: 14 clean runs earn `fixed`.
const RULES: &str = "quarantine:\n  rate_threshold: 0.1\n  min_runs: 10\n  fixed_below: 0.2\n";

const COMMAND: &str = "python3 -m pytest -q -p no:cacheprovider tests";

#[test]
fn pytest_quarantine_round_trip() {
    let repo = project(&[
        ("tests/test_seeded.py", SEEDED),
        ("tests/test_broken.py", BROKEN),
        (".flaky-detector.yml", RULES),
        ("CODEOWNERS", "* @everyone\ntests/test_seeded.py @py-team\n"),
    ]);
    let repo = repo.path();
    let sandbox = Sandbox::new();
    let db = sandbox.root.path().join("history.db");

    record_job(&sandbox, repo, &db, COMMAND, &seeds(1..=12), &[]);
    let said = quarantine(&sandbox, repo, &db, &[]);
    let file = listed(repo);
    assert!(file.contains("id: tests.test_seeded::test_flaky"), "{file}");
    assert!(
        file.contains("id: tests.test_seeded::test_to_fix"),
        "{file}"
    );
    assert!(
        !file.contains("test_broken"),
        "a broken test is never quarantined: {file}"
    );
    assert!(!file.contains("test_stable"), "{file}");
    assert!(file.contains("owner: '@py-team'"), "{file}");
    assert!(said.contains("+ tests.test_seeded::test_flaky"), "{said}");

    // Seed 3 fails both flaky tests: plain pytest fails, with the quarantine it passes.
    let plain = run_applied(
        repo,
        "",
        "python3 -m pytest -q -p no:cacheprovider tests/test_seeded.py",
        true,
        3,
        &[],
    );
    assert_eq!(plain.status.code(), Some(1), "{plain:?}");
    let line = quarantine(&sandbox, repo, &db, &["--apply-args", "pytest"]);
    let applied = run_applied(
        repo,
        &line,
        "python3 -m pytest -q -p no:cacheprovider tests/test_seeded.py",
        true,
        3,
        &[],
    );
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(applied.status.code(), Some(0), "{line}\n{applied:?}");
    assert!(stdout.contains("2 xfailed"), "{stdout}");
    // The broken test still fails the run.
    let broken = run_applied(
        repo,
        &line,
        "python3 -m pytest -q -p no:cacheprovider tests/test_broken.py",
        true,
        3,
        &[],
    );
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");

    // The fix, then 14 clean runs of it (seeds 1-14 still fail `test_flaky`): it leaves.
    std::fs::write(repo.join("tests/FIXED"), "").expect("the fix");
    let summary = record_job(&sandbox, repo, &db, COMMAND, &seeds(1..=14), &[]);
    // The job read the checkout's quarantine file: its failing quarantined test is named,
    // and the report (the PR comment's body) says so.
    assert_eq!(
        summary["quarantined"],
        serde_json::json!(["tests.test_seeded::test_flaky"]),
        "{summary}"
    );
    let results = sandbox.root.path().join("results.json");
    std::fs::write(&results, summary.to_string()).expect("results written");
    let report = sandbox
        .command()
        .arg("report")
        .arg(&results)
        .output()
        .expect("the binary starts");
    let body = String::from_utf8_lossy(&report.stdout);
    assert!(
        body.contains("quarantined (listed in `.flaky-detector/quarantine.yml`, so they do not block): `tests.test_seeded::test_flaky`"),
        "{body}"
    );
    let said = quarantine(&sandbox, repo, &db, &[]);
    let file = listed(repo);
    assert!(!file.contains("test_to_fix"), "{file}");
    assert!(file.contains("id: tests.test_seeded::test_flaky"), "{file}");
    assert!(
        said.contains("- tests.test_seeded::test_to_fix  fixed: ≤ 20 % after 14 clean runs"),
        "{said}"
    );
    assert!(!file.contains("test_broken"), "{file}");
}

/// `verify-fix --test ID` in `repo` with `extra` flags: its output.
fn verify_fix(sandbox: &Sandbox, repo: &Path, db: &Path, id: &str, extra: &[&str]) -> Output {
    sandbox
        .command()
        .args(["verify-fix", "--test", id, "--command", COMMAND, "--db"])
        .arg(db)
        .args(extra)
        .current_dir(repo)
        .output()
        .expect("the binary starts")
}

/// The newest job's run count in `db`.
fn newest_job_runs(sandbox: &Sandbox, db: &Path) -> u64 {
    let output = sandbox
        .command()
        .args(["history", "--json", "--limit", "1", "--db"])
        .arg(db)
        .output()
        .expect("the binary starts");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    report["jobs"][0]["total_runs"].as_u64().expect("a job")
}

#[test]
fn verify_fix_stops_at_the_first_failure_and_runs_exactly_n_when_clean() {
    let repo = project(&[
        ("tests/test_seeded.py", SEEDED),
        (".flaky-detector.yml", RULES),
    ]);
    let repo = repo.path();
    let sandbox = Sandbox::new();
    let db = sandbox.root.path().join("history.db");
    record_job(&sandbox, repo, &db, COMMAND, &seeds(1..=12), &[]);
    quarantine(&sandbox, repo, &db, &[]);
    assert!(listed(repo).contains("test_flaky"));

    // Failing 1 in 3 (seeds 1, 2, 3, … cycled, one run at a time): stops at run 3 of 14.
    let out = verify_fix(
        &sandbox,
        repo,
        &db,
        "tests.test_seeded::test_flaky",
        &["--seed", "1,2,3", "--parallelism", "1"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stdout.contains(
            "tests.test_seeded::test_flaky: not fixed: failed at run 3 (seed 3), reproduce: "
        ),
        "{stdout}"
    );
    assert!(stdout.contains("stays quarantined"), "{stdout}");
    assert_eq!(newest_job_runs(&sandbox, &db), 3);
    assert!(listed(repo).contains("test_flaky"));

    // The fixed test: exactly the 14 clean runs `fixed_below: 0.2` needs, then it leaves.
    std::fs::write(repo.join("tests/FIXED"), "").expect("the fix");
    let out = verify_fix(&sandbox, repo, &db, "tests.test_seeded::test_to_fix", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains("tests.test_seeded::test_to_fix: fixed: ≤ 20 % after 14 clean runs"),
        "{stdout}"
    );
    assert!(stdout.contains("left the quarantine"), "{stdout}");
    assert_eq!(newest_job_runs(&sandbox, &db), 14);
    assert!(!listed(repo).contains("test_to_fix"));

    // A name no runner knows never reads as fixed.
    let out = verify_fix(&sandbox, repo, &db, "tests.test_seeded::test_nothing", &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

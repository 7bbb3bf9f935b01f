//! Issue 26's quarantine round trip with pytest, through the real binary: jobs recorded in a
//! real SQLite file, `quarantine` writes the file (the flaky tests in, the broken one never),
//! pytest run with `quarantine --apply-args pytest` exits 0 although a quarantined test
//! fails, and a test recorded `fixed` leaves the file.

use crate::support;

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
    record_job(&sandbox, repo, &db, COMMAND, &seeds(1..=14), &[]);
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

//! Issue 20: what a fresh `python -m pytest` process draws anew, a run of the default path
//! (the pytest fork server) must draw anew too, or the job must notice that it did not and
//! count fresh processes instead. Each test below depends on one per-process source: a value
//! a library the conftest imports draws at import, a library's private `random.Random()`,
//! `os.urandom` at import, and an object's address. The libraries live outside the checkout,
//! as installed packages do, so the fork server imports them once.

use crate::support::pertest as pertest_support;

use std::path::Path;

use flaky_detector::Summary;
use flaky_detector::analysis::stats::wilson_z;
use flaky_detector::summary::Classification;
use pertest_support::run_job;
use serde_json::json;

const TESTS: [&str; 4] = [
    "test_value_drawn_at_import",
    "test_private_generator",
    "test_urandom_at_import",
    "test_address",
];

/// The libraries (in `lib`) and the project (in `repo`, a git repository).
///
/// `test_address` reads bit 24 of an object's address, which the randomised base of the
/// process's mappings decides. It read bit 20 before, and once, under the whole suite's load,
/// the job's fresh processes failed 32 of 40 where the bare loop had failed 10 of 24, and 19
/// and 20 of 40 in jobs run alone (not explained; the kernel may align larger anonymous
/// mappings to 2 MiB, which would tie the bits below 21 to what the process mapped before).
/// A run whose addresses were not randomised would still fail this test.
fn write_project(lib: &Path, repo: &Path) {
    let write = |path: &Path, text: &str| {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
        std::fs::write(path, text).expect("write");
    };
    write(
        &lib.join("drawlib.py"),
        "import random\nVALUE = random.random()\n",
    );
    write(
        &lib.join("privlib.py"),
        "import random\n_RNG = random.Random()\n\n\ndef coin():\n    return _RNG.random() < 0.5\n",
    );
    write(
        &lib.join("urandlib.py"),
        "import os\nTOKEN = os.urandom(1)[0]\n",
    );
    write(&repo.join("conftest.py"), "import drawlib  # noqa: F401\n");
    write(
        &repo.join("tests/test_sources.py"),
        "import drawlib\nimport privlib\nimport urandlib\n\n\n\
         def test_value_drawn_at_import():\n    assert drawlib.VALUE < 0.5\n\n\n\
         def test_private_generator():\n    assert privlib.coin()\n\n\n\
         def test_urandom_at_import():\n    assert urandlib.TOKEN < 128\n\n\n\
         def test_address():\n    assert (id(object()) >> 24) & 1 == 0\n",
    );
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(repo)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "commit",
        "-qm",
        "sources",
    ]);
}

/// Failures of each test in `runs` fresh processes, one at a time, as a user's loop runs them.
fn fresh_failures(lib: &Path, repo: &Path, runs: u32) -> Vec<u32> {
    let mut failures = vec![0; TESTS.len()];
    for _ in 0..runs {
        let out = std::process::Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
            .current_dir(repo)
            .env("PYTHONPATH", lib)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("pytest runs");
        let text = String::from_utf8_lossy(&out.stdout);
        for (i, test) in TESTS.iter().enumerate() {
            if text.contains(&format!("FAILED tests/test_sources.py::{test}")) {
                failures[i] += 1;
            }
        }
    }
    failures
}

async fn job(lib: &Path, repo: &Path, build_once: &str) -> Summary {
    run_job(json!({
        "repo": repo,
        "test_command": "python3 -m pytest -q -p no:cacheprovider tests",
        "runs": 40,
        "parallelism": 2,
        "build_once": build_once,
        "confirm_budget": 30,
        "env": {"PYTHONPATH": lib.display().to_string(), "PYTHONDONTWRITEBYTECODE": "1"},
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_process_sources_are_drawn_anew_on_the_default_path_as_in_fresh_processes() {
    pertest_support::require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    let (lib, repo) = (
        tempfile::tempdir().expect("lib"),
        tempfile::tempdir().expect("repo"),
    );
    write_project(lib.path(), repo.path());
    let fresh_runs = 24;
    let fresh = fresh_failures(lib.path(), repo.path(), fresh_runs);
    for build_once in ["auto", "off"] {
        let summary = job(lib.path(), repo.path(), build_once).await;
        let text = format!(
            "build_once {build_once}: {:?} {:#?}",
            summary.build_once, summary.tests
        );
        for (i, name) in TESTS.iter().enumerate() {
            let test = summary
                .tests
                .iter()
                .find(|t| t.name == format!("tests.test_sources::{name}"))
                .unwrap_or_else(|| panic!("{name} reported: {text}"));
            // The fresh processes' 99.9 % interval: the job's rate must fall in it.
            let interval = wilson_z(fresh[i], fresh_runs, 3.29);
            assert!(
                test.failure_rate >= interval.low && test.failure_rate <= interval.high,
                "{name}: the job's {} is outside fresh processes' {:.2}-{:.2} ({} of {fresh_runs}): {text}",
                test.failure_rate,
                interval.low,
                interval.high,
                fresh[i],
            );
            assert_eq!(
                test.classification,
                Some(Classification::Nondeterministic),
                "{name}: {text}"
            );
        }
    }
}

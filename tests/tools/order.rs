//! Test order on a pytest repository that has no pytest-randomly: our own plugin shuffles
//! the runs with their seeds, the failing order fails again while the file order passes
//! (`order-dependent`), and the polluter search names the test that must run first (or,
//! for a brittle test, the one it cannot do without), with a line that replays just them.

use crate::support::pertest as pertest_support;

use std::path::Path;

use flaky_detector::Summary;
use flaky_detector::analysis::Verdict;
use flaky_detector::summary::{Classification, OrderRole};
use pertest_support::{require_tool, run_job};
use serde_json::json;

/// A pytest project created in `dir`: `test_b_needs_clean_state` fails when
/// `test_a_pollutes` ran before it; `test_t_reads_config` fails unless
/// `test_s_sets_config` ran before it. File order passes. 16 other tests (20 in all, as
/// issue 24 asks of every language) make the prefixes long enough for the search to halve.
fn write_project(dir: &Path) {
    // In file order the victim runs before its polluter.
    let victim = "\
STATE = []


def test_b_needs_clean_state():
    assert STATE == [], \"an earlier test left state behind\"


def test_a_pollutes():
    STATE.append(\"dirty\")
";
    let brittle = "\
CONFIG = {}


def test_s_sets_config():
    CONFIG[\"ready\"] = True


def test_t_reads_config():
    assert CONFIG.get(\"ready\"), \"the config was never set up\"
";
    let mut others = String::new();
    for i in 0..16 {
        others.push_str(&format!("def test_other_{i}():\n    assert True\n\n\n"));
    }
    std::fs::create_dir_all(dir.join("tests")).expect("tests dir");
    std::fs::write(dir.join("tests/test_victim.py"), victim).expect("write");
    std::fs::write(dir.join("tests/test_brittle.py"), brittle).expect("write");
    std::fs::write(dir.join("tests/test_others.py"), others).expect("write");
}

const VICTIM: &str = "tests.test_victim::test_b_needs_clean_state";
const POLLUTER: &str = "tests.test_victim::test_a_pollutes";
const BRITTLE: &str = "tests.test_brittle::test_t_reads_config";
const SETTER: &str = "tests.test_brittle::test_s_sets_config";

async fn shuffled_job(dir: &Path, shuffle: bool) -> Summary {
    run_job(json!({
        "repo": dir,
        "test_command": "python3 -m pytest -q -p no:cacheprovider",
        "seeds": (1..=16).collect::<Vec<u64>>(),
        "parallelism": 4,
        "shuffle": shuffle,
    }))
    .await
}

/// python3 with pytest importable, or the test fails saying how to install them.
fn require_pytest() {
    let install = "apt-get install -y python3 && python3 -m pip install pytest";
    require_tool("python3", install);
    let importable = std::process::Command::new("python3")
        .args(["-c", "import pytest"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        importable,
        "pytest is not importable; install it with: {install}"
    );
}

#[cfg_attr(
    has_pytest_randomly,
    ignore = "needs an environment without pytest-randomly (pip uninstall pytest-randomly)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_dependence_is_found_without_pytest_randomly_and_the_polluter_is_named() {
    require_pytest();
    let has_randomly = std::process::Command::new("python3")
        .args(["-c", "import pytest_randomly"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        !has_randomly,
        "this test needs an environment without pytest-randomly"
    );
    let repo = tempfile::tempdir().expect("repo dir");
    write_project(repo.path());
    let summary = shuffled_job(repo.path(), true).await;

    assert!(
        summary.warnings.iter().all(|w| !w.starts_with("shuffle:")),
        "{:?}",
        summary.warnings
    );
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let class_of = |name: &str| {
        summary
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} reported: {:#?}", summary.tests))
            .classification
    };
    assert_eq!(class_of(VICTIM), Some(Classification::OrderDependent));
    assert_eq!(class_of(BRITTLE), Some(Classification::OrderDependent));
    assert_eq!(summary.classification, Some(Classification::OrderDependent));

    let victim = summary
        .order_dependence
        .iter()
        .find(|f| f.test == VICTIM)
        .unwrap_or_else(|| panic!("a finding for the victim: {:#?}", summary.order_dependence));
    assert_eq!(victim.role, OrderRole::Polluter);
    assert_eq!(victim.tests, [POLLUTER]);
    assert_eq!(
        victim.sentence,
        format!("`{VICTIM}` fails when `{POLLUTER}` runs first")
    );
    let line = victim.reproduce.as_deref().expect("a reproduce line");
    assert_eq!(
        line,
        "python3 -m pytest tests/test_victim.py::test_a_pollutes tests/test_victim.py::test_b_needs_clean_state"
    );

    let brittle = summary
        .order_dependence
        .iter()
        .find(|f| f.test == BRITTLE)
        .unwrap_or_else(|| {
            panic!(
                "a finding for the brittle test: {:#?}",
                summary.order_dependence
            )
        });
    assert_eq!(brittle.role, OrderRole::StateSetter);
    assert_eq!(brittle.tests, [SETTER]);
    assert_eq!(
        brittle.sentence,
        format!("`{BRITTLE}` fails when run without `{SETTER}` first")
    );

    // The lines fail when pasted into the project, and pass once the order is fixed.
    let run = |line: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(repo.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("sh runs")
    };
    let out = run(line);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("an earlier test left state behind"));
    let out = run(brittle.reproduce.as_deref().expect("a reproduce line"));
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let swapped = "python3 -m pytest -p no:cacheprovider tests/test_victim.py::test_b_needs_clean_state tests/test_victim.py::test_a_pollutes";
    assert!(run(swapped).status.success());

    // The job's own reproduce line replays the shuffled order that failed.
    let reproduce = summary.reproduce.as_deref().expect("a reproduce line");
    assert!(reproduce.contains("FLAKY_SHUFFLE=1"), "{reproduce}");
    assert!(!run(reproduce).status.success(), "{reproduce}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_shuffle_the_file_order_passes_and_nothing_is_searched() {
    require_pytest();
    let repo = tempfile::tempdir().expect("repo dir");
    write_project(repo.path());
    let summary = shuffled_job(repo.path(), false).await;
    assert_eq!(summary.verdict, Verdict::Stable, "{summary:#?}");
    assert!(summary.order_dependence.is_empty());
    assert_eq!(summary.tests.len(), 20);
}

/// Issue 20: a project that installs itself (`setup.py` at the root, so the install step
/// puts the checkout on `PYTHONPATH`) shuffles as well as one that does not, and every
/// victim of one polluter is `order-dependent` and names that polluter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_install_step_every_victim_of_one_polluter_names_it() {
    require_pytest();
    let repo = tempfile::tempdir().expect("repo dir");
    let dir = repo.path();
    std::fs::create_dir_all(dir.join("tests")).expect("tests dir");
    std::fs::create_dir_all(dir.join("registry")).expect("package dir");
    std::fs::write(
        dir.join("setup.py"),
        "from setuptools import setup\nsetup(name=\"registry\", version=\"0.1\", packages=[\"registry\"])\n",
    )
    .expect("write");
    std::fs::write(dir.join("registry/__init__.py"), "ENTRIES = []\n").expect("write");
    let mut tests = String::from(
        "import registry\n\n\ndef test_pollutes():\n    registry.ENTRIES.append(1)\n\n\n",
    );
    for i in 0..4 {
        tests.push_str(&format!(
            "def test_victim_{i}():\n    assert registry.ENTRIES == [], \"left behind\"\n\n\n"
        ));
    }
    for i in 0..8 {
        tests.push_str(&format!("def test_other_{i}():\n    assert True\n\n\n"));
    }
    // In file order every victim runs before the polluter... except that it is first: put
    // it last by naming the file order explicitly.
    let tests = tests.replacen(
        "def test_pollutes():\n    registry.ENTRIES.append(1)\n\n\n",
        "",
        1,
    ) + "def test_pollutes():\n    registry.ENTRIES.append(1)\n";
    std::fs::write(dir.join("tests/test_registry.py"), tests).expect("write");
    let summary = run_job(json!({
        "repo": dir,
        "test_command": "python3 -m pytest -q -p no:cacheprovider tests",
        "seeds": (1..=16).collect::<Vec<u64>>(),
        "parallelism": 2,
        "shuffle": true,
    }))
    .await;
    let text = format!("{summary:#?}");
    assert!(!text.contains("Error importing plugin"), "{text}");
    assert_eq!(summary.verdict, Verdict::Flaky, "{text}");
    let victims: Vec<_> = summary
        .tests
        .iter()
        .filter(|t| t.name.contains("test_victim_"))
        .collect();
    assert_eq!(victims.len(), 4, "{text}");
    for victim in victims {
        assert_eq!(
            victim.classification,
            Some(Classification::OrderDependent),
            "{}: {text}",
            victim.name
        );
        let finding = summary
            .order_dependence
            .iter()
            .find(|f| f.test == victim.name)
            .unwrap_or_else(|| panic!("a finding for {}: {text}", victim.name));
        assert_eq!(finding.role, OrderRole::Polluter);
        assert_eq!(finding.tests, ["tests.test_registry::test_pollutes"]);
    }
}

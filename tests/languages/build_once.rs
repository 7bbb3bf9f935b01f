//! Build once, run many (issue 15): with `build_once: auto` the Go, Rust and Python examples
//! fail for exactly the seeds they fail for with plain runs, seed by seed, under the same
//! per-test names; a hanging test binary (or pytest run in a fork server's child) still times
//! out with its whole process tree killed; and commands the translation does not understand,
//! or that a fork server cannot serve safely, fall back to plain runs, saying why.
//!
//! The Go tests are ignored where `build.rs` found no `go`; a missing `cargo`, or `go` under
//! `FLAKY_REQUIRE_TOOLS=1`, fails with the line that installs it.

use crate::examples;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flaky_detector::{Deps, Events, JobInput, RepoPolicy, Summary, detect};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use examples::{CARGO, Example, go, python, require_tools, rust};

struct Sandbox {
    _root: tempfile::TempDir,
    checkout: PathBuf,
    deps: Deps,
}

/// A scratch root with `checkout/` filled by `fill`, and the job's work and cache folders.
fn sandbox(fill: impl FnOnce(&Path)) -> Sandbox {
    let root = tempfile::tempdir().expect("tempdir");
    let checkout = root.path().join("checkout");
    std::fs::create_dir_all(&checkout).expect("checkout folder");
    fill(&checkout);
    let deps = crate::sandbox_deps(root.path());
    Sandbox {
        _root: root,
        checkout,
        deps,
    }
}

/// Runs one job on the sandbox's checkout; `extra` is merged into the job input.
async fn run_job(sandbox: &Sandbox, command: &str, seeds: &[u64], extra: Value) -> Summary {
    let mut input = json!({
        "repo": sandbox.checkout.display().to_string(),
        "test_command": command,
        "runs": seeds.len(),
        "parallelism": 2,
        "seeds": seeds,
        "timeout": 300,
        "confirm": false,
    });
    if let (Some(input), Value::Object(extra)) = (input.as_object_mut(), extra) {
        input.extend(extra);
    }
    let job = JobInput::from_value(input)
        .and_then(|input| input.validate(RepoPolicy { allow_local: true }))
        .expect("the job input is valid");
    detect(
        job,
        &sandbox.deps,
        &Events::none(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("the job `{command}` ran: {e}"))
}

/// Pass or fail per seed.
fn by_seed(summary: &Summary) -> BTreeMap<u64, bool> {
    summary.results.iter().map(|r| (r.seed, r.passed)).collect()
}

/// Failures per test name.
fn per_test(summary: &Summary) -> BTreeMap<String, (u32, Vec<u64>)> {
    summary
        .tests
        .iter()
        .map(|t| (t.name.clone(), (t.runs, t.failing_seeds.clone())))
        .collect()
}

fn mode(summary: &Summary) -> &str {
    summary.build_once.as_deref().unwrap_or("<none>")
}

/// Runs `example` with `build_once: auto` and `off` on the same seeds and checks that both
/// fail the same seeds, seed by seed, as the example's formula predicts, with the same
/// per-test names and failing seeds.
async fn same_as_plain(example: Example, seeds: &[u64], extra: Value, built: &str) {
    require_tools(&example);
    let sandbox = sandbox(|checkout| super::checkout_of(example.dir, checkout));
    let mut on = extra.clone();
    on["build_once"] = json!("auto");
    let mut off = extra;
    off["build_once"] = json!("off");
    let once = run_job(&sandbox, example.command, seeds, on).await;
    let plain = run_job(&sandbox, example.command, seeds, off).await;
    assert!(mode(&once).starts_with(built), "mode: {}", mode(&once));
    assert_eq!(mode(&plain), "off: build_once is off");
    assert_eq!(by_seed(&once), by_seed(&plain), "pass/fail per seed");
    let predicted: Vec<u64> = (example.expect)(seeds)
        .into_iter()
        .filter(|(_, failing)| !failing.is_empty())
        .map(|(seed, _)| seed)
        .collect();
    assert_eq!(
        once.failing_seeds, predicted,
        "failing seeds vs the formula"
    );
    assert_eq!(per_test(&once), per_test(&plain), "per-test results");
    // The reproduce line stays the plain command a person can paste.
    let line = once.reproduce.as_deref().unwrap_or_default();
    let runner: Vec<&str> = example.command.split(' ').take(2).collect();
    assert!(line.contains(&runner.join(" ")), "reproduce: {line}");
    assert!(
        !line.contains("test2json") && !line.contains("build-once"),
        "reproduce: {line}"
    );
    // A fork server's runs have the server's hash seed, which their reproduce line carries;
    // the rest of the line is the plain one.
    assert_eq!(
        once.reproduce.as_deref().map(without_hash_seed),
        plain.reproduce.as_deref().map(without_hash_seed)
    );
}

/// `line` without its `PYTHONHASHSEED=<n> ` assignment.
fn without_hash_seed(line: &str) -> String {
    line.split(' ')
        .filter(|word| !word.starts_with("PYTHONHASHSEED="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_build_once_fails_the_same_seeds_as_plain_runs() {
    let seeds: Vec<u64> = (1..=24).collect();
    // Shuffled order too: the seed's `-shuffle` must reach the binary as `-test.shuffle`.
    same_as_plain(go(), &seeds, json!({ "shuffle": true }), "go test binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_build_once_fails_the_same_seeds_as_plain_runs() {
    let seeds: Vec<u64> = (1..=16).collect();
    same_as_plain(
        rust("cargo test", &[CARGO]),
        &seeds,
        json!({}),
        "cargo test binaries",
    )
    .await;
}

fn go_module(checkout: &Path, test_file: &str) {
    std::fs::write(
        checkout.join("go.mod"),
        "module example.com/hang\n\ngo 1.19\n",
    )
    .expect("go.mod");
    std::fs::write(checkout.join("hang_test.go"), test_file).expect("test file");
}

/// A test that starts a grandchild (`sleep`), writes its pid where `PID_FILE` says, and
/// hangs.
const HANGING_TEST: &str = r#"package hang

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestHangs(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("PID_FILE"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
"#;

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split_whitespace().nth(2) == Some("Z"))
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_test_binary_times_out_and_its_process_tree_is_killed() {
    require_tools(&go());
    let sandbox = sandbox(|checkout| go_module(checkout, HANGING_TEST));
    let pid_file = sandbox.deps.work_dir.join("grandchild.pid");
    let summary = run_job(
        &sandbox,
        "go test ./...",
        &[7],
        json!({ "timeout": 5, "env": { "PID_FILE": pid_file.display().to_string() } }),
    )
    .await;
    assert_eq!(mode(&summary), "go test binary");
    assert!(summary.results[0].timed_out, "{:?}", summary.results[0]);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the test wrote its grandchild's pid")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the grandchild {pid} outlived the timed-out run"
    );
}

const PASSING_TEST: &str = "package hang\n\nimport \"testing\"\n\nfunc TestOk(t *testing.T) {}\n";

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_build_once_does_not_understand_run_plain_and_say_why() {
    require_tools(&go());
    let sandbox = sandbox(|checkout| go_module(checkout, PASSING_TEST));
    let cases = [
        // A flag with no binary equivalent.
        ("go test -exec=env ./...", "off: go test flag `-exec=env`"),
        // Not a command we translate.
        ("sh -c 'go test ./...'", "off: the command is not"),
    ];
    for (command, reason) in cases {
        let summary = run_job(&sandbox, command, &[1, 2], json!({})).await;
        assert!(
            mode(&summary).starts_with(reason),
            "{command}: {}",
            mode(&summary)
        );
        assert_eq!(summary.failures, 0, "{command} ran plain and passed");
    }
    // Turned off in the repository's file.
    std::fs::write(
        sandbox.checkout.join(".flaky-detector.yml"),
        "build_once: off\n",
    )
    .expect("config");
    let summary = run_job(&sandbox, "go test ./...", &[1], json!({})).await;
    assert_eq!(mode(&summary), "off: build_once is off");
    std::fs::remove_file(sandbox.checkout.join(".flaky-detector.yml")).expect("remove config");
    // A package that does not compile: the build is reported and the runs show the error.
    std::fs::write(
        sandbox.checkout.join("broken_test.go"),
        "package hang\n\nfunc broken() { undefined() }\n",
    )
    .expect("broken file");
    let summary = run_job(&sandbox, "go test ./...", &[1], json!({})).await;
    assert!(
        mode(&summary).starts_with("off: ") && mode(&summary).contains("failed"),
        "{}",
        mode(&summary)
    );
    assert_eq!(summary.failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytest_fork_server_fails_the_same_seeds_as_plain_runs() {
    let seeds: Vec<u64> = (1..=16).collect();
    same_as_plain(python(), &seeds, json!({}), "pytest fork server").await;
}

/// A pytest checkout: `requirements.txt` (pytest) and `tests/test_x.py` with `test_file`.
fn pytest_checkout(checkout: &Path, test_file: &str) {
    std::fs::write(checkout.join("requirements.txt"), "pytest>=7\n").expect("requirements");
    std::fs::create_dir_all(checkout.join("tests")).expect("tests folder");
    std::fs::write(checkout.join("tests").join("test_x.py"), test_file).expect("test file");
}

/// A test that starts a grandchild (`sleep`), writes its pid where `PID_FILE` says, and
/// hangs.
const HANGING_PYTEST: &str = r#"import os
import subprocess
import time


def test_hangs():
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["PID_FILE"], "w") as handle:
        handle.write(str(child.pid))
    time.sleep(3600)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_pytest_run_in_a_fork_server_times_out_and_its_tree_is_killed() {
    require_tools(&python());
    let sandbox = sandbox(|checkout| pytest_checkout(checkout, HANGING_PYTEST));
    let pid_file = sandbox.deps.work_dir.join("grandchild.pid");
    let summary = run_job(
        &sandbox,
        "pytest -q tests",
        &[7],
        json!({ "timeout": 8, "env": { "PID_FILE": pid_file.display().to_string() } }),
    )
    .await;
    assert!(
        mode(&summary).starts_with("pytest fork server"),
        "{}",
        mode(&summary)
    );
    assert!(summary.results[0].timed_out, "{:?}", summary.results[0]);
    let hung: Vec<&str> = summary
        .tests
        .iter()
        .filter(|t| t.failures > 0)
        .map(|t| t.name.as_str())
        .collect();
    assert!(
        hung.iter().any(|name| name.ends_with("test_hangs")),
        "the hung test is named: {hung:?}"
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the test wrote its grandchild's pid")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the grandchild {pid} outlived the timed-out run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_fork_server_cannot_serve_safely_runs_plain_and_says_why() {
    require_tools(&python());
    // Dependencies outside the checkout, found through PYTHONPATH like site-packages.
    let sandbox = sandbox(|checkout| {
        pytest_checkout(
            checkout,
            "import threaddep\nimport brokendep\n\n\ndef test_ok():\n    assert threaddep.READY\n",
        )
    });
    let deps_dir = sandbox.deps.work_dir.join("deps");
    std::fs::create_dir_all(&deps_dir).expect("deps folder");
    let thread_dep = "import threading\nimport time\n\nthreading.Thread(target=time.sleep, \
                      args=(600,), name=\"poller\", daemon=True).start()\nREADY = True\n";
    std::fs::write(deps_dir.join("threaddep.py"), thread_dep).expect("threaddep");
    std::fs::write(deps_dir.join("brokendep.py"), "").expect("brokendep");
    let env = json!({ "env": { "PYTHONPATH": deps_dir.display().to_string() } });
    let cases = [
        // A dependency starts a thread at import: a fork would lose it.
        (
            "pytest -q tests",
            "off: a thread is alive after the imports (poller)",
        ),
        // Not plain pytest.
        ("sh -c 'pytest -q tests'", "off: the command is not"),
    ];
    for (command, reason) in cases {
        let summary = run_job(&sandbox, command, &[1, 2], env.clone()).await;
        assert!(
            mode(&summary).starts_with(reason),
            "{command}: {}",
            mode(&summary)
        );
        assert_eq!(summary.failures, 0, "{command} ran plain and passed");
    }
    // A dependency whose import fails in the server: plain runs (which then show the error).
    std::fs::write(deps_dir.join("threaddep.py"), "READY = True\n").expect("threaddep");
    std::fs::write(
        deps_dir.join("brokendep.py"),
        "raise RuntimeError('no config')\n",
    )
    .expect("brokendep");
    let summary = run_job(&sandbox, "pytest -q tests", &[1], env).await;
    assert!(
        mode(&summary).starts_with("off: importing `brokendep` failed (RuntimeError: no config)"),
        "{}",
        mode(&summary)
    );
    assert_eq!(summary.failures, 1);
}

//! Every supported language end to end (issue 6): each bundled example under `examples/` goes
//! through `detect()` with seeds 1..=N, and the test checks that the framework was detected,
//! the dependencies installed and then cached, the seed reached the tests (the failing seeds
//! are exactly those the example's own formula predicts, each failing run names its flaky
//! test), the known failure rate lies inside the reported Wilson interval, and the printed
//! reproduce line, run with `sh -c` in a checkout of the example, fails again while the same
//! line with a passing seed passes. `images` checks the deployment files; `build_once`
//! runs the Go and Rust examples built once against plain runs.
//!
//! A language whose tools `build.rs` found missing is ignored with the reason (`has_go`,
//! `has_node`, `has_nextest`); reached without its tools, as under `FLAKY_REQUIRE_TOOLS=1`
//! in CI, a test fails with the line that installs them.

mod build_once;
mod examples;
mod images;
mod scripts;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flaky_detector::summary::reproduce_line;
use flaky_detector::{Deps, Events, JobInput, RepoPolicy, Summary, detect};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use examples::{CARGO, Example, NEXTEST, go, jest, mocha, python, require_tools, rust, vitest};

/// Seeds 1..=SEEDS go into the first job of every example. Fixed seeds make "fails for seeds
/// X" an exact, repeatable assertion.
const SEEDS: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_pytest_example_end_to_end() {
    end_to_end(python()).await;
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_test_example_end_to_end() {
    end_to_end(go()).await;
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_jest_example_end_to_end() {
    end_to_end(jest()).await;
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_vitest_example_end_to_end() {
    end_to_end(vitest()).await;
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_mocha_example_end_to_end() {
    end_to_end(mocha()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cargo_test_example_end_to_end() {
    end_to_end(rust("cargo test", &[CARGO])).await;
}

#[cfg_attr(
    not(has_nextest),
    ignore = "needs cargo-nextest (cargo install cargo-nextest --locked)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_nextest_example_end_to_end() {
    end_to_end(rust("cargo nextest run", &[CARGO, NEXTEST])).await;
}

/// A copy of `examples/<dir>` without anything a local install left there, so the job starts
/// from what a clone of the repository holds.
fn checkout_of(dir: &str, dest: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create the checkout folder");
        for entry in std::fs::read_dir(from).expect("read the example folder") {
            let entry = entry.expect("read a directory entry");
            let name = entry.file_name();
            let skip = ["node_modules", "target", "__pycache__", ".pytest_cache"];
            if skip.iter().any(|s| name == *s) {
                continue;
            }
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                copy(&entry.path(), &to.join(&name));
            } else if kind.is_file() {
                std::fs::copy(entry.path(), to.join(&name)).expect("copy a file");
            }
        }
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(dir);
    copy(&source, dest);
}

struct Sandbox {
    root: tempfile::TempDir,
    checkout: PathBuf,
    deps: Deps,
}

fn sandbox(example: &Example) -> Sandbox {
    let root = tempfile::tempdir().expect("tempdir");
    let checkout = root.path().join("checkout");
    checkout_of(example.dir, &checkout);
    let deps = sandbox_deps(root.path());
    Sandbox {
        root,
        checkout,
        deps,
    }
}

/// The job's work and cache folders under `root` (made here), no history, no token: what
/// every sandboxed job in this binary runs with.
pub(crate) fn sandbox_deps(root: &Path) -> Deps {
    let work = root.join("work");
    let cache = root.join("cache");
    for dir in [&work, &cache] {
        std::fs::create_dir_all(dir).expect("create a sandbox folder");
    }
    Deps {
        work_dir: work,
        cache_dir: cache,
        git_token: None,
        clone_timeout: Duration::from_secs(60),
        kill_grace: Duration::from_secs(2),
        history: None,
        policy: Default::default(),
    }
}

async fn run_job(example: &Example, sandbox: &Sandbox, seeds: &[u64]) -> Summary {
    seeds_job(example, sandbox, seeds, json!({})).await
}

/// [`run_job`] with more job fields (`extra`, an object) on top.
async fn seeds_job(
    example: &Example,
    sandbox: &Sandbox,
    seeds: &[u64],
    extra: serde_json::Value,
) -> Summary {
    let mut input = json!({
        "repo": sandbox.checkout.display().to_string(),
        "test_command": example.command,
        "runs": seeds.len(),
        "parallelism": 2,
        "seeds": seeds,
        // Generous: a cold Jest or Cargo run on two busy cores is slow, and no assertion
        // depends on time.
        "timeout": 300,
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
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
    .unwrap_or_else(|e| panic!("the {} job ran: {e}", example.dir))
}

/// Runs `line` with `sh -c` in `dir` and returns its exit status and output.
fn shell(line: &str, dir: &Path, target: &Path) -> (i32, String) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        // Cargo builds outside the checkout so a stray `target/` never lands in examples/.
        .env("CARGO_TARGET_DIR", target)
        .env_remove("FLAKY_SEED")
        .env_remove("TEST_SEED")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{line}`: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

async fn end_to_end(example: Example) {
    require_tools(&example);
    let sandbox = sandbox(&example);
    let seeds: Vec<u64> = (1..=SEEDS).collect();
    let expected = (example.expect)(&seeds);
    let summary = run_job(&example, &sandbox, &seeds).await;
    eprintln!(
        "{}: install {} ms, {} runs in {:.1} s",
        example.dir, summary.install.duration_ms, summary.total_runs, summary.duration_seconds
    );
    let context = format!(
        "{} example, install {:?}, first results {:?}",
        example.dir,
        summary.install,
        summary.results.first()
    );

    assert_eq!(summary.framework, example.framework, "{context}");
    assert_eq!(
        summary.install.status,
        flaky_detector::framework::InstallStatus::Installed,
        "{context}"
    );
    assert_eq!(summary.total_runs as u64, SEEDS, "{context}");

    // The seed reached the tests: the failing seeds are the predicted ones, and each failing
    // run names the flaky tests that its seed fails.
    let predicted: BTreeSet<u64> = expected
        .iter()
        .filter(|(_, failing)| !failing.is_empty())
        .map(|(seed, _)| *seed)
        .collect();
    let failing: BTreeSet<u64> = summary.failing_seeds.iter().copied().collect();
    match example.order_dependent {
        None => assert_eq!(failing, predicted, "{context}"),
        Some(_) => assert!(failing.is_superset(&predicted), "{context}: {failing:?}"),
    }
    assert!(
        !failing.is_empty() && failing.len() < seeds.len(),
        "{context}: {failing:?}"
    );
    for result in summary.results.iter().filter(|r| !r.passed) {
        let output = format!("{}{}", result.stdout, result.stderr);
        let names = &expected[&result.seed];
        if names.is_empty() {
            let order = example
                .order_dependent
                .expect("only an order-dependent test fails unpredicted");
            assert!(output.contains(order), "seed {}: {output}", result.seed);
        }
        for name in names {
            assert!(output.contains(name), "seed {}: {output}", result.seed);
        }
    }

    // The known rate lies inside the reported 95 % interval.
    assert!(
        summary.ci_low <= example.failure_rate && example.failure_rate <= summary.ci_high,
        "{context}: rate {} outside [{}, {}]",
        example.failure_rate,
        summary.ci_low,
        summary.ci_high
    );

    // A second job on the same dependencies restores them from the cache, and replaying the
    // failing seeds with a few passing ones splits them the same way.
    let passing: Vec<u64> = seeds
        .iter()
        .copied()
        .filter(|s| !failing.contains(s))
        .take(3)
        .collect();
    let replay_seeds: Vec<u64> = failing.iter().copied().chain(passing.clone()).collect();
    let replay = run_job(&example, &sandbox, &replay_seeds).await;
    assert_eq!(
        replay.install.status,
        flaky_detector::framework::InstallStatus::Cached,
        "{context}"
    );
    let replay_failing: BTreeSet<u64> = replay.failing_seeds.iter().copied().collect();
    assert_eq!(replay_failing, failing, "{} replay", example.dir);

    // The reproduce line, run as printed in a checkout, fails again; with a passing seed, the
    // same line passes.
    let reproduce = summary
        .reproduce
        .clone()
        .expect("a flaky job has a reproduce line");
    let first_failing = summary.failing_seeds[0];
    assert!(
        reproduce.contains(&format!("TEST_SEED={first_failing}")),
        "{reproduce}"
    );
    if let Some(option) = example.seed_option {
        let words = shlex::split(&reproduce).expect("the reproduce line splits");
        assert_eq!(
            words.last(),
            Some(&format!("{option}={first_failing}")),
            "{reproduce}"
        );
    }
    let target = sandbox.root.path().join("target");
    if let Some(prepare) = example.prepare {
        let (code, output) = shell(prepare, &sandbox.checkout, &target);
        assert_eq!(code, 0, "`{prepare}` failed: {output}");
    }
    let (code, output) = shell(&reproduce, &sandbox.checkout, &target);
    assert_ne!(code, 0, "`{reproduce}` passed: {output}");
    let argv = shlex::split(example.command).expect("the command splits");
    let passing_line = reproduce_line(example.framework, passing[0], &BTreeMap::new(), &argv);
    let (code, output) = shell(&passing_line, &sandbox.checkout, &target);
    assert_eq!(code, 0, "`{passing_line}` failed: {output}");
}

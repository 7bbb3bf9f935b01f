//! Shared by the per-test attribution and classification tests: a job run through
//! `detect()` on a fixture directory, with scratch and cache directories of its own.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::path::PathBuf;

use flaky_detector::events::{Event, Events};
use flaky_detector::{JobInput, RepoPolicy, Summary, detect};
use tokio_util::sync::CancellationToken;

/// A fixture under `tests/fixtures/pertest/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pertest")
        .join(name)
}

/// A fixture under `tests/fixtures/classify/`.
pub fn classify_fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/classify")
        .join(name)
        .display()
        .to_string()
}

/// Runs one job from a JSON input and returns its summary.
pub async fn run_job(input: serde_json::Value) -> Summary {
    run_job_with_events(input).await.0
}

/// Runs one job with its work and cache directories under `scratch`, which outlive it as a
/// user's cache does (a reproduce line may load a file from the cache).
pub async fn run_job_in(input: serde_json::Value, scratch: &std::path::Path) -> Summary {
    run_job_at(input, scratch).await.0
}

/// Runs one job and also returns every event it emitted, in order.
pub async fn run_job_with_events(input: serde_json::Value) -> (Summary, Vec<Event>) {
    // Work and cache directories that live as long as the job.
    let scratch = tempfile::tempdir().expect("a scratch dir");
    run_job_at(input, scratch.path()).await
}

async fn run_job_at(input: serde_json::Value, scratch: &std::path::Path) -> (Summary, Vec<Event>) {
    let job = JobInput::from_value(input)
        .and_then(|input| input.validate(RepoPolicy { allow_local: true }))
        .expect("the test's job input is valid");
    let (events, mut receiver) = Events::channel();
    let summary = detect(
        job,
        &super::jobs::deps(scratch, None),
        &events,
        &CancellationToken::new(),
    )
    .await
    .expect("the job runs");
    drop(events);
    let mut seen = Vec::new();
    while let Some(event) = receiver.recv().await {
        seen.push(event);
    }
    (summary, seen)
}

/// Fails the test, with how to install it, when `program` is not on PATH. A test must never
/// pass without running: one that needs a tool beyond git, python3 and pytest is ignored
/// instead when `build.rs` found the tool missing (`#[cfg_attr(not(has_go), ignore = …)]`),
/// so reaching this without the tool is an error.
pub fn require_tool(program: &str, install: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "`{program}` is not installed; install it with: {install}"
    );
}

/// Gives the JavaScript project in `dir` the pinned dependencies of `examples/<example>`
/// (its package.json and package-lock.json) and installs them there with `npm ci`.
pub fn npm_ci_from_example(dir: &std::path::Path, example: &str) {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example);
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(examples.join(file), dir.join(file)).expect("copy the example's manifest");
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("npm ci --prefer-offline --no-audit --no-fund --loglevel=error")
        .current_dir(dir)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm ci: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

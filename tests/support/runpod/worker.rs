//! Helpers for worker tests: the binary started as a worker against a [`FakePlatform`] with
//! fast retry settings, and waits on what its jobs leave on disk.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::PATIENCE;
use super::platform::FakePlatform;
use super::process::Process;

/// Fast retries, so a test never sleeps RunPod's real 2 s and 3 s.
pub const FAST: [&str; 6] = [
    "--post-retry-waits",
    "0.05,0.05",
    "--rate-limit-wait",
    "0.2",
    "--error-backoff",
    "0.2",
];

/// `flaky-detector worker --allow-local-repos` with [`FAST`] settings and `extra` flags.
pub fn worker(platform: &FakePlatform, extra: &[&str]) -> Process {
    let mut args = vec!["worker", "--allow-local-repos"];
    args.extend(FAST);
    args.extend(extra);
    Process::spawn(&args, &platform.env())
}

/// `input` with one variable in its `env`.
pub fn with_env(mut input: Value, name: &str, value: &str) -> Value {
    input["env"] = json!({ name: value });
    input
}

/// SIGTERM, then the exit status must be 0.
pub async fn stop_worker(mut process: Process) {
    process.sigterm();
    let status = process.wait_exit().await;
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        process.stderr()
    );
}

/// Waits until `dir` holds exactly `count` `.json` files and returns them.
pub async fn wait_for_files(dir: &Path, count: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        if files.len() == count {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} spooled files in {}, found {files:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! The one support tree of the integration-test binaries (`tests/it`, `tests/e2e`,
//! `tests/tools`), each of which loads it with `#[path = "../support/mod.rs"] mod support;`.
//! Here: fixture projects in temp dirs, the real binary run with its own cache and scratch
//! directories, and process liveness checks. In submodules: [`jobs`] (jobs through `detect()` and
//! summaries derived from them), [`pertest`] (fixture jobs with their events), [`http`] (the
//! recording HTTP server and a fake GitHub), [`summaries`] (fixed summaries), [`pg`] (a
//! private PostgreSQL server), [`runpod`] (a fake RunPod platform, `serve` and `worker`
//! as child processes) and [`wait`] (polling a condition, with a deadline that means "hung").

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod http;
pub mod jobs;
pub mod pertest;
pub mod pg;
pub mod quarantine;
pub mod runpod;
pub mod summaries;
pub mod triage;
pub mod wait;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test, the one place the tests name it (Cargo builds it for them).
pub const BIN: &str = env!("CARGO_BIN_EXE_flaky-detector");

/// [`BIN`] as a path.
pub fn bin() -> PathBuf {
    PathBuf::from(BIN)
}

/// A directory holding `files` (path, content); parents are created.
pub fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("file has a parent")).expect("mkdir");
        std::fs::write(full, content).expect("write fixture file");
    }
    dir
}

/// Cache and scratch directories private to one test, so tests never share state.
pub struct Sandbox {
    pub root: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The binary with this sandbox's directories and no inherited RunPod variables.
    pub fn command(&self) -> Command {
        let mut command = Command::new(bin());
        command
            .env("FLAKY_CACHE_DIR", self.cache_dir())
            .env("FLAKY_WORK_DIR", self.work_dir())
            .env_remove("RUNPOD_WEBHOOK_GET_JOB")
            .env_remove("RUST_LOG");
        command
    }

    /// `flaky-detector run --json …`; returns the output and the parsed summary (if any).
    pub fn run(&self, args: &[&str]) -> (Output, Option<Value>) {
        let output = self
            .command()
            .arg("run")
            .arg("--json")
            .args(args)
            .output()
            .expect("the binary starts");
        let summary = serde_json::from_slice(&output.stdout).ok();
        (output, summary)
    }

    /// Like [`Sandbox::run`] but the summary must be there.
    pub fn summary(&self, args: &[&str]) -> Value {
        let (output, summary) = self.run(args);
        summary.unwrap_or_else(|| {
            panic!(
                "no summary (status {:?})\nstderr: {}\nstdout: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// The failing seeds of a summary, sorted.
pub fn failing_seeds(summary: &Value) -> Vec<u64> {
    let mut seeds: Vec<u64> = summary["failing_seeds"]
        .as_array()
        .expect("failing_seeds is an array")
        .iter()
        .map(|s| s.as_u64().expect("seeds are numbers"))
        .collect();
    seeds.sort_unstable();
    seeds
}

/// True while `pid` names a live process (a zombie counts as dead: PID 1 here may not reap).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Waits up to `seconds` for `pid` to die; true if it did.
pub fn dies_within(pid: i32, seconds: f64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    while std::time::Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    !alive(pid)
}

/// Reads a pid written by a fixture, waiting for the file to appear.
pub fn read_pid(path: &Path) -> i32 {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no pid in {}", path.display());
}

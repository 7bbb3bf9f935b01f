//! The quarantine round trip's steps, shared by the pytest test (`tests/e2e`) and the Go,
//! Jest and Vitest ones (`tests/tools`): a job recorded in a real SQLite file through the
//! binary, `quarantine` run in the project, and a command run with what `--apply-args`
//! printed, through `sh`'s `eval` as a CI step would.

use std::path::Path;
use std::process::{Command, Output};

use super::{Sandbox, path_str};

/// Seeds `first..=last` as `--seed` takes them.
pub fn seeds(range: std::ops::RangeInclusive<u64>) -> String {
    range.map(|s| s.to_string()).collect::<Vec<_>>().join(",")
}

/// One job of `command` on `repo` with `seeds`, recorded in `db`; `extra` flags added.
pub fn record_job(
    sandbox: &Sandbox,
    repo: &Path,
    db: &Path,
    command: &str,
    seeds: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "--repo",
        path_str(repo),
        "--command",
        command,
        "--seed",
        seeds,
        "--no-confirm",
        "--db",
        path_str(db),
    ];
    args.extend_from_slice(extra);
    let summary = sandbox.summary(&args);
    assert!(summary["run_id"].is_i64(), "recorded: {summary}");
    summary
}

/// `quarantine` with `args` in `repo`, which must succeed; its stdout.
pub fn quarantine(sandbox: &Sandbox, repo: &Path, db: &Path, args: &[&str]) -> String {
    let output = sandbox
        .command()
        .arg("quarantine")
        .arg("--db")
        .arg(db)
        .args(args)
        .current_dir(repo)
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `line` (what `--apply-args` printed) put before (`before`) or after `command`, run by
/// `sh` in `dir` with `TEST_SEED` set to `seed` and `env` added.
pub fn run_applied(
    dir: &Path,
    line: &str,
    command: &str,
    before: bool,
    seed: u64,
    env: &[(&str, &str)],
) -> Output {
    let script = if before {
        format!("eval \"$LINE {command}\"")
    } else {
        format!("eval \"{command} $LINE\"")
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("LINE", line.trim())
        .env("TEST_SEED", seed.to_string())
        .current_dir(dir);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("sh starts")
}

/// The quarantine file of `repo`.
pub fn listed(repo: &Path) -> String {
    std::fs::read_to_string(repo.join(".flaky-detector/quarantine.yml")).expect("the file")
}

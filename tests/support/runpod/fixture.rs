//! Fixture repositories: a temp dir with a `test.sh` whose outcome depends only on the
//! seed (`TEST_SEED`), so "fails for seeds 1 and 3" cannot flake.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

/// A directory holding `test.sh` with `script` as its body.
pub fn sh_repo(script: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir for the fixture repo");
    std::fs::write(dir.path().join("test.sh"), script).expect("write test.sh");
    dir
}

/// Fails for odd seeds, passes for even ones, after `sleep` seconds.
pub fn odd_seeds_fail(sleep: &str) -> TempDir {
    sh_repo(&format!(
        "sleep {sleep}\nif [ $((TEST_SEED % 2)) -eq 1 ]; then echo \"odd seed $TEST_SEED\" >&2; exit 1; fi\necho ok\n"
    ))
}

/// Writes its shell's pid to `$PID_DIR/<seed>.pid`, then sleeps for `sleep` seconds when the
/// seed is at least `slow_from`, else passes at once. The shell leads its process group.
pub fn pid_writer(slow_from: u64, sleep: u64) -> TempDir {
    sh_repo(&format!(
        "echo $$ > \"$PID_DIR/$TEST_SEED.pid\"\nif [ \"$TEST_SEED\" -ge {slow_from} ]; then sleep {sleep}; fi\necho done\n"
    ))
}

/// A job input for `repo` running `sh test.sh` with the given seeds, all at once.
pub fn input(repo: &Path, seeds: &[u64]) -> Value {
    json!({
        "repo": repo.display().to_string(),
        "test_command": "sh test.sh",
        "runs": seeds.len(),
        "parallelism": seeds.len(),
        "seeds": seeds,
    })
}

/// The pids written by [`pid_writer`] runs so far.
pub fn pids(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| text.trim().parse().ok())
        .collect()
}

/// True while a live (not zombie) process of the group led by `pid` exists. Read from
/// /proc rather than with `kill(-pid, 0)`, because an orphaned grandchild stays a zombie
/// until PID 1 reaps it, and not every container's PID 1 does.
pub fn group_alive(pid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // Fields after the command name: state, ppid, pgrp, ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pid.to_string()
    })
}

/// Waits until `count` runs have written their pid, and returns the pids.
pub async fn wait_for_pids(dir: &Path, count: usize) -> Vec<i32> {
    let deadline = Instant::now() + super::PATIENCE;
    loop {
        let found = pids(dir);
        if found.len() == count {
            return found;
        }
        assert!(Instant::now() < deadline, "only {found:?} runs started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until none of the process groups has a live process.
pub async fn wait_groups_gone(groups: &[i32]) {
    let deadline = Instant::now() + super::PATIENCE;
    while groups.iter().any(|g| group_alive(*g)) {
        assert!(
            Instant::now() < deadline,
            "groups {groups:?} were never killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! History on a shared volume: one SQLite file per worker (rollback journal, no WAL) in a
//! folder, written by separate worker processes at once and read together by `history`.

use crate::support::jobs as common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use flaky_detector::history::{JobFilter, Store};
use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;

use common::*;

use crate::support::BIN;

/// The binary with its own cache and work folders under `dir`, no history store from the
/// environment, run in `dir`. Shared by the history tests of this binary.
pub(super) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("FLAKY_CACHE_DIR", dir.join("cache"))
        .env("FLAKY_WORK_DIR", dir.join("work"))
        .env_remove("FLAKY_DB")
        .env_remove("FLAKY_DB_FILE")
        .env_remove("RUNPOD_POD_ID")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

pub(super) fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Three jobs in a row from one worker process per job, as pod `pod`, into `folder`.
fn worker_jobs(dir: &Path, repo: &Path, folder: &str, pod: &str) -> Vec<i64> {
    (0..3)
        .map(|_| {
            let output = command(dir)
                .env("RUNPOD_POD_ID", pod)
                .args(["run", "--json", "--repo"])
                .arg(repo)
                .args(["-c", &command_failing_on_digits("2", "boom")])
                .args(["--seed", "1,2,3,4,12,21,22,30"])
                .args(["--db", folder])
                .output()
                .expect("the binary starts");
            assert!(output.status.success(), "{output:?}");
            json(&output)["run_id"].as_i64().expect("run_id is set")
        })
        .collect()
}

fn check_file(path: &Path) {
    let conn = Connection::open(path).expect("a worker file opens");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check runs");
    assert_eq!(integrity, "ok", "{}", path.display());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal_mode reads");
    assert_eq!(mode, "delete", "{} must not be in WAL", path.display());
}

#[test]
fn two_workers_write_one_folder_at_once_and_history_reads_both() {
    let dir = TempDir::new().expect("temp dir");
    let repo = fixture_repo(dir.path(), "repo");
    let folder = dir.path().join("volume").join("history");
    // A trailing slash names a folder that does not exist yet.
    let folder_arg = format!("{}/", folder.display());

    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| worker_jobs(dir.path(), &repo, &folder_arg, "pod-a"));
        let b = scope.spawn(|| worker_jobs(dir.path(), &repo, &folder_arg, "pod-b"));
        (
            a.join().expect("worker a finished"),
            b.join().expect("worker b finished"),
        )
    });
    // Each worker numbers its own jobs.
    assert_eq!(a, vec![1, 2, 3]);
    assert_eq!(b, vec![1, 2, 3]);

    for pod in ["pod-a", "pod-b"] {
        check_file(&folder.join(format!("{pod}.db")));
    }
    let leftovers: Vec<String> = std::fs::read_dir(&folder)
        .expect("the folder lists")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with("-wal") || name.ends_with("-shm"))
        .collect();
    assert!(leftovers.is_empty(), "no WAL files: {leftovers:?}");

    let output = command(dir.path())
        .args(["history", "--json", "--limit", "20", "--db"])
        .arg(&folder)
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["total_jobs"], 6, "{report}");
    assert_eq!(report["jobs"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        report["flakiest_tests"][0]["failures"], 18,
        "3 of 8 runs failed in each of 6 jobs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_each_workers_jobs_whole_while_they_write() {
    let dir = TempDir::new().expect("temp dir");
    let folder = dir.path().join("history");
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let seeds: Vec<u64> = (1..=20).collect();
    let base = real_job(
        &deps,
        &repo,
        &command_failing_on_digits("7", "boom"),
        &seeds,
    )
    .await;

    let writers: Vec<Store> = ["pod-1", "pod-2"]
        .iter()
        .map(|pod| Store::open_folder(&folder, Some(pod)).expect("a worker opens the folder"))
        .collect();
    let reader = Store::open_folder(&folder, None).expect("a reader opens the folder");
    let jobs_each = 15;
    let seen = std::thread::scope(|scope| {
        for writer in &writers {
            let base = &base;
            scope.spawn(move || {
                for i in 0..jobs_each {
                    let seeds: Vec<u64> = (1..=50 + i).collect();
                    writer
                        .record(&with_runs(base, &seeds, &[7, 17]))
                        .expect("a worker records");
                }
            });
        }
        let mut seen = Vec::new();
        loop {
            let count = reader.count_jobs(&JobFilter::default()).expect("reads");
            // Every job read back is whole: as many runs stored as it says it had.
            for row in reader.jobs(&JobFilter::default(), 5, 0).expect("lists") {
                let detail = reader.job(row.id).expect("reads").expect("listed");
                assert_eq!(detail.runs.len() as u32, row.total_runs);
            }
            seen.push(count);
            if count == 2 * jobs_each {
                break seen;
            }
        }
    });
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    for pod in ["pod-1", "pod-2"] {
        check_file(&folder.join(format!("{pod}.db")));
    }
}

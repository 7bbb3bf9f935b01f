//! Issue 21 (a second security review), finding 8 and the secrets of finding 11, through the
//! real binary: reading history never writes, and the history database can come from a file.

use crate::support::summaries;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use chrono::Utc;
use flaky_detector::history::migrations::{MIGRATIONS, migrate_with};
use flaky_detector::history::{Journal, Store};
use rusqlite::Connection;
use tempfile::TempDir;

use super::history_folder::{command, json};

/// Every file of `dir` (names and bytes), to compare before and after.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("listed")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            let name = p.file_name().expect("named").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable"))
        })
        .collect()
}

/// A history file at `path` in `journal` mode with one job of repository `repo`.
fn history_file(path: &Path, journal: Journal, repo: &str) {
    let store = Store::open_with(path, journal).expect("opens");
    let mut summary = summaries::summary("flaky");
    summary.repo = repo.to_string();
    store.record_at(&summary, Utc::now()).expect("recorded");
}

/// Finding 8: `history --db FOLDER/` migrated and rewrote every `*.db` in the folder: a
/// foreign SQLite file gained our tables, an empty file became a history database, a WAL
/// file was switched to a rollback journal. Now the folder is byte for byte the same after
/// `history` and after the dashboard read it, the history files are read, and the others
/// are skipped with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_8_reading_a_history_folder_changes_no_byte_of_it() {
    let dir = TempDir::new().expect("temp dir");
    let folder = dir.path().join("history");
    std::fs::create_dir_all(&folder).expect("mkdir");
    history_file(&folder.join("pod-a.db"), Journal::Rollback, "repo-a");
    history_file(&folder.join("pod-wal.db"), Journal::Wal, "repo-wal");
    // An older schema (version 1) with a job in it: read through a migrated private copy.
    {
        let mut conn = Connection::open(folder.join("pod-old.db")).expect("opens");
        migrate_with(&mut conn, &MIGRATIONS[..1]).expect("schema 1");
        conn.execute_batch(
            "INSERT INTO jobs (id, recorded_at, repo, test_command, framework, total_runs, \
             failures, failure_rate, ci_low, ci_high, verdict, severity, duration_seconds) \
             VALUES (1, 1700000000, 'repo-old', 'sh t.sh', 'unknown', 10, 3, 0.3, 0.1, 0.6, \
             'flaky', 'high', 1.5);",
        )
        .expect("a schema-1 job");
        let mut summary = summaries::summary("flaky");
        summary.repo = "repo-old".to_string();
        conn.execute(
            "INSERT INTO job_summaries VALUES (1, ?1)",
            [serde_json::to_string(&summary).expect("encodes")],
        )
        .expect("its summary");
    }
    {
        let conn = Connection::open(folder.join("foreign.db")).expect("opens");
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE notes (text TEXT);")
            .expect("a foreign database");
    }
    std::fs::write(folder.join("empty.db"), "").expect("an empty file");
    std::fs::write(folder.join("text.db"), "not sqlite at all").expect("a text file");
    let before = contents(&folder);
    assert_eq!(before.len(), 6, "{:?}", before.keys());

    let output = command(dir.path())
        .args(["history", "--json", "--db"])
        .arg(format!("{}/", folder.display()))
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    let mut repos: Vec<&str> = report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["repo"].as_str())
        .collect();
    repos.sort_unstable();
    assert_eq!(repos, vec!["repo-a", "repo-old", "repo-wal"], "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for skipped in ["foreign.db", "empty.db", "text.db"] {
        assert!(stderr.contains(skipped), "{skipped} warned about: {stderr}");
    }
    assert_eq!(contents(&folder), before, "history wrote to the folder");

    // The dashboard reads it too, and leaves it as it was.
    let mut child = command(dir.path())
        .args(["dashboard", "--port", "0", "--db"])
        .arg(format!("{}/", folder.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dashboard starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    // Read to the end on a thread of its own: the dashboard warns about the skipped files
    // while it answers, and a closed pipe would cut the answer short.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
            {
                let _ = send.send(url.to_string());
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || receive.recv())
        .await
        .expect("read")
        .expect("the dashboard prints its address");
    let page = reqwest::get(&url).await;
    let _ = child.kill();
    let _ = child.wait();
    let html = page.expect("answers").text().await.expect("a body");
    assert!(html.contains(r#"id="stat-jobs">3<"#), "{html}");
    assert_eq!(
        contents(&folder),
        before,
        "the dashboard wrote to the folder"
    );
}

/// Finding 8, for one file: `history --db FILE` opens it read-only, so a foreign SQLite
/// file is refused with a one-line error and left as it was.
#[test]
fn issue_21_finding_8_history_refuses_a_foreign_file_without_changing_it() {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("notes.db");
    Connection::open(&file)
        .and_then(|c| c.execute_batch("CREATE TABLE notes (text TEXT);"))
        .expect("a foreign database");
    let before = std::fs::read(&file).expect("read");
    let output = command(dir.path())
        .args(["history", "--db"])
        .arg(&file)
        .output()
        .expect("the binary starts");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is not a history database: a SQLite database without history tables"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before);
}

/// Finding 11 (secrets from files): `--db-file` and `FLAKY_DB_FILE` name a file holding the
/// database, so a password need not be on the command line; both with `--db` is refused.
#[test]
fn issue_21_finding_11_the_history_database_can_come_from_a_file() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("h.db");
    history_file(&db, Journal::Wal, "from-file");
    let secret = dir.path().join("db-url");
    std::fs::write(&secret, format!("{}\n", db.display())).expect("secret file");

    for how in ["flag", "env"] {
        let mut cmd = command(dir.path());
        cmd.args(["history", "--json"]);
        if how == "flag" {
            cmd.arg("--db-file").arg(&secret);
        } else {
            cmd.env("FLAKY_DB_FILE", &secret);
        }
        let output = cmd.output().expect("the binary starts");
        assert!(output.status.success(), "{how}: {output:?}");
        assert_eq!(json(&output)["jobs"][0]["repo"], "from-file", "{how}");
    }

    let output = command(dir.path())
        .args(["history", "--db"])
        .arg(&db)
        .arg("--db-file")
        .arg(&secret)
        .output()
        .expect("the binary starts");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--db and --db-file"), "{stderr}");

    std::fs::write(&secret, "").expect("emptied");
    let output = command(dir.path())
        .args(["history", "--db-file"])
        .arg(&secret)
        .output()
        .expect("the binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the history database from") && stderr.contains("empty"),
        "{stderr}"
    );
}

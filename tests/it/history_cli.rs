//! The binary's history front ends: `run --db` and `FLAKY_DB` record the job, `history`
//! shows it (text and JSON) and applies `--keep-days`, clear one-line errors for a missing
//! or unopenable database, and `dashboard` serving a real port.

use crate::support::jobs as common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{Duration, Utc};
use flaky_detector::history::Store;
use serde_json::Value;
use tempfile::TempDir;

use common::*;

use crate::support::BIN;

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("FLAKY_CACHE_DIR", dir.join("cache"))
        .env("FLAKY_WORK_DIR", dir.join("work"))
        .env_remove("FLAKY_DB")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary starts")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn flaky_run(dir: &Path, repo: &Path) -> Command {
    let mut cmd = command(dir);
    cmd.args(["run", "--json", "--repo"])
        .arg(repo)
        .args(["-c", &command_failing_on_digits("2", "boom")])
        .args(["--seed", "1,2,3,4,12"]);
    cmd
}

#[test]
fn run_records_the_job_and_history_shows_it() {
    let dir = TempDir::new().expect("temp dir");
    let repo = fixture_repo(dir.path(), "repo");
    let db = dir.path().join("given.db");

    let output = run(flaky_run(dir.path(), &repo).arg("--db").arg(&db));
    assert!(output.status.success(), "{output:?}");
    let summary = json(&output);
    let run_id = summary["run_id"].as_i64().expect("run_id is set");
    assert_eq!(summary["failing_seeds"], serde_json::json!([2, 12]));
    assert!(
        !dir.path().join("given.db-wal").exists(),
        "the job's process leaves no WAL for the next one to read back"
    );

    // FLAKY_DB does the same as --db.
    let output = run(flaky_run(dir.path(), &repo).env("FLAKY_DB", &db));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(json(&output)["run_id"].as_i64(), Some(run_id + 1));

    let output = run(command(dir.path())
        .args(["history", "--json", "--db"])
        .arg(&db));
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["total_jobs"], 2);
    assert_eq!(report["jobs"][1]["id"].as_i64(), Some(run_id));
    assert_eq!(report["jobs"][1]["failures"], 2);
    assert_eq!(
        report["flakiest_tests"][0]["failures"], 4,
        "2 of 5 runs, twice"
    );
    let today = Utc::now().date_naive().to_string();
    let last_day = report["trend"]
        .as_array()
        .and_then(|d| d.last())
        .expect("days");
    assert_eq!(last_day["day"], today.as_str());
    assert_eq!(last_day["jobs"], 2);

    let output = run(command(dir.path()).args(["history", "--db"]).arg(&db));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("Recent jobs (2 of 2)"), "{text}");
    assert!(text.contains("40.0% (95% CI"), "{text}");
    assert!(
        text.contains(&format!("{today}     2 jobs  mean failure rate 40.0%")),
        "{text}"
    );

    // Nothing was written to the default path in the working directory.
    assert!(!dir.path().join("flaky_test_history.db").exists());
}

#[test]
fn without_db_the_job_goes_to_the_working_directory() {
    let dir = TempDir::new().expect("temp dir");
    let repo = fixture_repo(dir.path(), "repo");
    let output = run(&mut flaky_run(dir.path(), &repo));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(json(&output)["run_id"], 1);
    assert!(dir.path().join("flaky_test_history.db").is_file());
}

#[test]
fn keep_days_deletes_older_jobs() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("h.db");
    let repo = fixture_repo(dir.path(), "repo");
    let output = run(flaky_run(dir.path(), &repo).arg("--db").arg(&db));
    assert!(output.status.success(), "{output:?}");
    let recorded = json(&output);
    let summary: flaky_detector::Summary =
        serde_json::from_value(recorded).expect("the output is a summary");
    Store::open(&db)
        .and_then(|store| store.record_at(&summary, Utc::now() - Duration::days(45)))
        .expect("an old job records");

    let output = run(command(dir.path())
        .args(["history", "--json", "--keep-days", "30", "--db"])
        .arg(&db));
    assert!(output.status.success(), "{output:?}");
    let report = json(&output);
    assert_eq!(report["deleted_jobs"], 1);
    assert_eq!(report["total_jobs"], 1);
    assert_eq!(report["jobs"][0]["id"], 1, "the recent job stays");

    let output = run(command(dir.path()).args(["history", "--keep-days", "0"]));
    assert_eq!(output.status.code(), Some(2), "0 days is a usage error");
    // Once a panic (exit 101): a cutoff before the calendar's start.
    let output = run(command(dir.path())
        .args(["history", "--keep-days", "100000000", "--db"])
        .arg(&db));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--keep-days"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_or_unopenable_database_is_a_one_line_error() {
    let dir = TempDir::new().expect("temp dir");
    let missing = dir.path().join("typo.db");
    let output = run(command(dir.path()).args(["history", "--db"]).arg(&missing));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: history database {} does not exist",
            missing.display()
        )
    );
    assert!(!missing.exists(), "reading does not create the file");

    let repo = fixture_repo(dir.path(), "repo");
    let bad = dir.path().join("no-such-dir").join("h.db");
    let output = run(flaky_run(dir.path(), &repo).arg("--db").arg(&bad));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot open history database {}: ",
            bad.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "the job did not run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_command_serves_the_history() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("h.db");
    let repo = fixture_repo(dir.path(), "repo");
    let output = run(flaky_run(dir.path(), &repo).arg("--db").arg(&db));
    assert!(output.status.success(), "{output:?}");

    let mut child = command(dir.path())
        .args(["dashboard", "--port", "0", "--db"])
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dashboard starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stderr)
            .read_line(&mut line)
            .map(|_| line)
            .expect("the dashboard prints its address")
    })
    .await
    .expect("the read finishes");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let result = reqwest::get(&url).await;
    let _ = child.kill();
    let _ = child.wait();
    let response = result.expect("the dashboard answers");
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("a body");
    assert!(html.contains(r#"id="stat-jobs">1<"#), "{html}");
    assert!(html.contains(r#"id="stat-runs">5<"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_command_can_require_a_key() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("h.db");
    let mut child = command(dir.path())
        .args(["dashboard", "--port", "0", "--key", "d-key", "--db"])
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dashboard starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let lines = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stderr);
        let mut text = String::new();
        // A note about the new database file, then the address.
        for _ in 0..2 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            text.push_str(&line);
            if line.contains("http://") {
                break;
            }
        }
        text
    })
    .await
    .expect("the read finishes");
    let url = lines
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {lines:?}"))
        .to_string();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for (path, key) in [("", None), ("no-such-page", None), ("", Some("d-key"))] {
        let mut request = client.get(format!("{url}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        statuses.push(request.send().await.map(|r| r.status().as_u16()));
    }
    let _ = child.kill();
    let _ = child.wait();
    let statuses: Vec<u16> = statuses
        .into_iter()
        .map(|s| s.expect("the dashboard answers"))
        .collect();
    assert_eq!(statuses, [401, 401, 200]);
}

//! History in a real PostgreSQL server (one private server per test, see `pg_support`):
//! migrations from empty and from the previous schema, jobs recorded at once by `serve` and
//! the CLI, the dashboard over them, and a database stopped in the middle of a job.

use crate::support::jobs as common;
use crate::support::pg as pg_support;
use crate::support::runpod as support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use flaky_detector::history::postgres::{PG_MIGRATIONS, PgStore};
use flaky_detector::history::{HistoryError, JobFilter, RunId, Store, record_summary};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use crate::support::wait::{HANG, wait_until_async};
use common::*;
use pg_support::{PASSWORD, PgServer};
use support::fixture::{input, odd_seeds_fail, sh_repo};
use support::server::Server;

use crate::support::BIN;

/// Runs `sql` on the server as the test's superuser.
async fn sql(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test connects");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect("the SQL runs");
    drop(client);
    let _ = driver.await;
}

#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_from_empty_and_from_the_previous_version() {
    let server = PgServer::start();
    let url = server.url();

    // From empty, by four processes' worth of stores at once: one migrates, all open.
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| Store::connect(&url).map(|s| s.migrated())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let froms: Vec<u32> = opened
        .into_iter()
        .map(|m| m.expect("every store opens").from)
        .collect();
    assert_eq!(froms.iter().filter(|f| **f == 0).count(), 1, "{froms:?}");
    assert!(froms.iter().all(|f| *f == 0 || *f == 2), "{froms:?}");

    // From the previous version: a schema-1 database with a flaky job in it.
    sql(&url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;").await;
    let (_old, migrated) = PgStore::connect_with(&url, &PG_MIGRATIONS[..1]).expect("schema 1");
    assert_eq!((migrated.from, migrated.to), (0, 1));
    sql(
        &url,
        "INSERT INTO jobs (id, recorded_at, repo, test_command, framework, total_runs, \
         failures, failure_rate, ci_low, ci_high, verdict, severity, duration_seconds) \
         VALUES (1, 1700000000, 'r', 'sh t.sh', 'unknown', 10, 3, 0.3, 0.1, 0.6, 'flaky', \
         'high', 1.5); \
         INSERT INTO job_summaries VALUES (1, '{}'); \
         INSERT INTO test_cases (id, repo, name) VALUES (1, 'r', 'test_a'); \
         INSERT INTO test_results VALUES (1, 1, 10, 3, 0.3, 0.1, 0.6, 'flaky', 'high', NULL, \
         '[1,2,3]', NULL, NULL);",
    )
    .await;
    let store = Store::connect(&url).expect("schema 1 migrates");
    assert_eq!((store.migrated().from, store.migrated().to), (1, 2));
    let jobs = store.jobs(&JobFilter::default(), 10, 0).expect("reads");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].flaky_tests, 1, "filled in by migration 2");
    let flakiest = store
        .flakiest_tests(&JobFilter::default(), None)
        .expect("reads");
    assert_eq!(flakiest.len(), 1);
    assert_eq!((flakiest[0].runs, flakiest[0].failures), (10, 3));

    // A newer schema than this build knows is refused, with the URL but not the password.
    sql(&url, "INSERT INTO flaky_schema_version VALUES (99)").await;
    let error = Store::connect(&url).expect_err("a newer schema is refused");
    let message = flaky_detector::errors::one_line(&error);
    assert!(matches!(error, HistoryError::Migrate { .. }), "{message}");
    assert!(message.contains("newer than this build"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
    assert!(message.contains("flaky:***@127.0.0.1"), "{message}");
}

fn cli_job(dir: &std::path::Path, repo: &std::path::Path, url: &str) -> Value {
    let output = Command::new(BIN)
        .env("FLAKY_CACHE_DIR", dir.join("cache"))
        .env("FLAKY_WORK_DIR", dir.join("work"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("FLAKY_DB")
        .args(["run", "--json", "--repo"])
        .arg(repo)
        .args(["-c", "sh test.sh", "--seed", "1,2,3,4,5,6", "--db", url])
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    serde_json::from_slice(&output.stdout).expect("a summary")
}

#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_jobs_at_once_from_serve_and_the_cli_are_all_in_postgres_and_on_the_dashboard() {
    let pg = PgServer::start();
    let url = pg.url();
    let dir = TempDir::new().expect("temp dir");
    let repo = odd_seeds_fail("1");
    let server = Server::start(&["--allow-local-repos", "--concurrency", "2", "--db", &url]).await;

    let served: Vec<String> = futures_ids(&server, repo.path()).await;
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| cli_job(dir.path(), repo.path(), &url));
        let b = scope.spawn(|| cli_job(dir.path(), repo.path(), &url));
        (a.join().expect("cli a"), b.join().expect("cli b"))
    });
    let mut ids = vec![a["run_id"].as_i64(), b["run_id"].as_i64()];
    for id in &served {
        let done = server.wait_status(id, "COMPLETED").await;
        assert_eq!(done["output"]["failures"], 2, "{done}");
        ids.push(done["output"]["run_id"].as_i64());
    }
    let mut ids: Vec<i64> = ids
        .into_iter()
        .map(|i| i.expect("every job has a run_id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "four distinct jobs: {ids:?}");
    let log = server.process.stderr();
    assert!(
        log.contains("history: PostgreSQL postgres://flaky:***@127.0.0.1"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD), "{log}");

    let output = Command::new(BIN)
        .env_remove("FLAKY_DB")
        .args(["history", "--json", "--db", &url])
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains(PASSWORD), "{text}");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(report["total_jobs"], 4, "{report}");
    let mut listed: Vec<i64> = report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_i64().expect("an id"))
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ids);
    // 2 of 4 runs failed in each served job, 3 of 6 in each CLI job.
    assert_eq!(report["flakiest_tests"][0]["failures"], 10, "{report}");

    let store = Arc::new(Store::connect(&url).expect("connects"));
    let app = flaky_detector::web::router(store);
    for uri in [
        "/",
        "/jobs",
        "/tests",
        "/trend",
        "/severity",
        &format!("/jobs/{}", ids[0]),
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
            .await
            .expect("the router answers");
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let page = String::from_utf8_lossy(&body);
        assert!(!page.contains(PASSWORD), "{uri}");
        if uri == "/jobs" {
            for id in &ids {
                assert!(
                    page.contains(&format!("/jobs/{id}")),
                    "job {id} listed: {page}"
                );
            }
        }
    }
}

/// Two jobs posted to `serve` (they run while the CLI jobs run).
async fn futures_ids(server: &Server, repo: &std::path::Path) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (code, queued) = server
            .post("/run", &json!({"input": input(repo, &[1, 2, 3, 4])}))
            .await;
        assert_eq!(code, StatusCode::OK, "{queued}");
        ids.push(queued["id"].as_str().expect("an id").to_string());
    }
    ids
}

#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_stopped_mid_job_loses_no_summary() {
    let pg = PgServer::start();
    let dir = TempDir::new().expect("temp dir");
    let pending = dir.path().join("pending");
    let mut store = Store::connect(&pg.url()).expect("connects");
    store.keep_failed_writes_in(pending.clone());
    let store = Arc::new(store);
    let deps = deps(dir.path(), Some(Arc::clone(&store)));
    // Each run says it started, then waits for `go`: the database goes away while they run.
    let signals = TempDir::new().expect("temp dir");
    let (started, go) = (signals.path().join("started"), signals.path().join("go"));
    std::fs::create_dir(&started).expect("mkdir");
    let repo = sh_repo(&format!(
        "touch '{}/'$TEST_SEED\nwhile [ ! -e '{}' ]; do sleep 0.05; done\n\
         if [ $((TEST_SEED % 2)) -eq 1 ]; then echo \"odd seed $TEST_SEED\" >&2; exit 1; fi\necho ok\n",
        started.display(),
        go.display()
    ));
    let job = real_job(&deps, repo.path(), "sh test.sh", &[1, 2, 3, 4]);
    let stop = async {
        wait_until_async(HANG, "a run starts", async || {
            std::fs::read_dir(&started).is_ok_and(|mut runs| runs.next().is_some())
        })
        .await;
        pg.stop();
        std::fs::write(&go, "").expect("write go");
    };
    let (summary, ()) = tokio::join!(job, stop);
    assert_eq!(summary.failures, 2, "the result is still returned");
    assert_eq!(summary.run_id, None);
    let warning = summary
        .warnings
        .iter()
        .find(|w| w.starts_with("not recorded in history"))
        .unwrap_or_else(|| panic!("a warning says so: {:?}", summary.warnings));
    assert!(!warning.contains(PASSWORD), "{warning}");
    assert!(
        warning.contains("written when the database is back"),
        "{warning}"
    );
    assert_eq!(std::fs::read_dir(&pending).expect("kept").count(), 1);

    // Back up: the next job is recorded, and the one kept right after it.
    pg.restart();
    let next = record_summary(&store, with_runs(&summary, &[5, 6], &[])).await;
    assert!(next.run_id.is_some(), "{:?}", next.warnings);
    assert_eq!(std::fs::read_dir(&pending).expect("listed").count(), 0);
    assert_eq!(store.count_jobs(&JobFilter::default()).expect("reads"), 2);
    let kept = store
        .summary(RunId(2))
        .expect("reads")
        .expect("the kept job");
    assert_eq!(kept.failing_seeds, vec![1, 3]);
    assert_eq!(kept.results.len(), 4);
}

/// Runs go in multi-row statements (issue 14: one statement per run made a 1,000-run job
/// slow in PostgreSQL); a job whose run count needs every statement size reads back run for
/// run, from PostgreSQL and from SQLite alike.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_1003_runs_reads_back_run_for_run_from_both_stores() {
    let pg = PgServer::start();
    let dir = TempDir::new().expect("temp dir");
    let repo = odd_seeds_fail("0");
    let base = real_job(&deps(dir.path(), None), repo.path(), "sh test.sh", &[1, 2]).await;
    let seeds: Vec<u64> = (1..=1003).collect();
    let failing: Vec<u64> = seeds.iter().copied().filter(|s| s % 7 == 0).collect();
    let mut summary = with_runs(&base, &seeds, &failing);
    for (i, run) in summary.results.iter_mut().enumerate() {
        run.duration_ms = i as u64;
        run.stdout = format!("run {i} said 'hello'");
        if i % 100 == 3 {
            run.timed_out = true;
            run.exit_code = None;
            run.signal = Some(9);
            run.output_truncated_bytes = 4096;
        }
    }

    let postgres = Store::connect(&pg.url()).expect("connects");
    let sqlite = Store::open(&dir.path().join("history.db")).expect("opens");
    for store in [&postgres, &sqlite] {
        let id = store.record(&summary).expect("records");
        let read = store.summary(id).expect("reads").expect("the job");
        assert_eq!(read.results.len(), 1003, "{}", store.path().display());
        assert_eq!(read.results, summary.results, "{}", store.path().display());
        let overview = store.overview(&JobFilter::default()).expect("reads");
        assert_eq!(overview.runs, 1003);
    }
}

/// The pending folder of a child process started by the test support (its XDG data dir).
fn pending_dir(process: &support::process::Process) -> std::path::PathBuf {
    process.path("data/flaky-detector/history-pending")
}

fn pending_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|e| e.count()).unwrap_or(0)
}

/// Waits until the pending folder is empty: the kept job's file goes right after its write
/// commits, so just after `history` lists the job it may still be there.
async fn wait_until_empty(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while pending_count(dir) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the kept job's file stayed in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `history --json` until it lists `jobs` jobs (the retry runs on its own timer, so
/// the test waits for it with a generous deadline rather than timing it).
async fn wait_for_history_jobs(url: &str, jobs: u64) -> Value {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        let output = Command::new(BIN)
            .env_remove("FLAKY_DB")
            .args(["history", "--json", "--db", url])
            .output()
            .expect("the binary starts");
        if output.status.success() {
            let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
            if report["total_jobs"] == jobs {
                return report;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "history never listed {jobs} jobs: {output:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks a finished job's summary: its result is there, and it says it was not recorded.
fn assert_not_recorded(output: &Value) {
    assert_eq!(output["failures"], 2, "{output}");
    assert!(output["run_id"].is_null(), "{output}");
    let warnings = output["warnings"].to_string();
    assert!(
        warnings.contains("not recorded in history") && !warnings.contains(PASSWORD),
        "{output}"
    );
}

/// Issue 14: a job finished while PostgreSQL is down is kept, and `serve` writes it once the
/// database is back, on its retry timer, with no further job to trigger it.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_a_job_kept_while_the_database_was_down_without_another_job() {
    let pg = PgServer::start();
    let url = pg.url();
    let repo = odd_seeds_fail("0");
    let server = Server::start(&[
        "--allow-local-repos",
        "--db",
        &url,
        "--history-retry-interval",
        "0.2",
    ])
    .await;

    pg.stop();
    let id = server.run(&input(repo.path(), &[1, 2, 3, 4])).await;
    let done = server.wait_status(&id, "COMPLETED").await;
    assert_not_recorded(&done["output"]);
    let pending = pending_dir(&server.process);
    assert_eq!(pending_count(&pending), 1, "the job is kept");

    pg.restart();
    let report = wait_for_history_jobs(&url, 1).await;
    assert_eq!(report["jobs"][0]["failures"], 2, "{report}");
    wait_until_empty(&pending).await;
    let log = server.process.stderr();
    assert!(!log.contains(PASSWORD), "{log}");
}

/// Issue 14: the same for the RunPod worker: its result is delivered at once with the
/// warning, and the job reaches PostgreSQL on the worker's timer once the database is back.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_records_a_job_kept_while_the_database_was_down_without_another_job() {
    let pg = PgServer::start();
    let url = pg.url();
    let repo = odd_seeds_fail("0");
    let platform = support::platform::FakePlatform::start().await;
    let process = support::worker::worker(
        &platform,
        &["--db", &url, "--history-retry-interval", "0.2"],
    );
    // The worker connects before it takes its first job; only then does the database go.
    platform
        .wait_until("the first job-take", |log| log.iter().any(|r| r.is_take()))
        .await;

    pg.stop();
    platform.push_job("job-pg-down", input(repo.path(), &[1, 2, 3, 4]));
    let result = platform.delivered_result("job-pg-down").await;
    assert_not_recorded(&result["output"]);
    let pending = pending_dir(&process);
    assert_eq!(pending_count(&pending), 1, "the job is kept");

    pg.restart();
    let report = wait_for_history_jobs(&url, 1).await;
    assert_eq!(report["jobs"][0]["failures"], 2, "{report}");
    wait_until_empty(&pending).await;
    support::worker::stop_worker(process).await;
}

/// A schema as both engines can describe it: per table, each column's type family and
/// whether it may be NULL, and each index created by name (not those behind a primary key
/// or a UNIQUE) with its columns.
#[derive(Debug, Default, PartialEq)]
struct Schema {
    columns: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    indexes: std::collections::BTreeMap<String, (String, String)>,
}

/// SQLite's declared type and PostgreSQL's type, named alike: the PostgreSQL migrations
/// write every integer BIGINT and every real DOUBLE PRECISION so values read back as the
/// same SQLite types. Any other type keeps its own name, and so differs.
fn type_family(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer".into(),
        "real" | "double precision" => "real".into(),
        "text" => "text".into(),
        other => other.into(),
    }
}

fn sqlite_schema(path: &std::path::Path) -> Schema {
    let conn = rusqlite::Connection::open(path).expect("the SQLite file opens");
    let names = |sql: &str| -> Vec<String> {
        let mut statement = conn.prepare(sql).expect("the query prepares");
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .expect("the query runs")
            .map(|name| name.expect("a name"))
            .collect()
    };
    let mut schema = Schema::default();
    for table in
        names("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    {
        let mut statement = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .expect("table_info");
        let columns = statement
            .query_map([], |row| {
                let name: String = row.get("name")?;
                let declared: String = row.get("type")?;
                let not_null: bool = row.get("notnull")?;
                // A primary key column is never NULL in either engine, whatever SQLite's
                // `notnull` says of an INTEGER PRIMARY KEY.
                let primary: i64 = row.get("pk")?;
                let null = if not_null || primary > 0 {
                    "not null"
                } else {
                    "null"
                };
                Ok((name, format!("{} {null}", type_family(&declared))))
            })
            .expect("table_info runs")
            .map(|column| column.expect("a column"))
            .collect();
        schema.columns.insert(table.clone(), columns);
        let mut statement = conn
            .prepare(&format!("PRAGMA index_list({table})"))
            .expect("index_list");
        let created: Vec<String> = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>("name")?,
                    row.get::<_, String>("origin")?,
                ))
            })
            .expect("index_list runs")
            .map(|index| index.expect("an index"))
            .filter(|(_, origin)| origin == "c")
            .map(|(name, _)| name)
            .collect();
        for index in created {
            let columns = names(&format!(
                "SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"
            ));
            schema
                .indexes
                .insert(index, (table.clone(), columns.join(", ")));
        }
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test connects");
    let driver = tokio::spawn(connection);
    let mut schema = Schema::default();
    // `flaky_schema_version` is PostgreSQL's `PRAGMA user_version`, not part of the schema.
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> 'flaky_schema_version'",
            &[],
        )
        .await
        .expect("information_schema.columns");
    for row in columns {
        let table: String = row.get(0);
        let null = if row.get::<_, String>(3) == "NO" {
            "not null"
        } else {
            "null"
        };
        schema.columns.entry(table).or_default().insert(
            row.get(1),
            format!("{} {null}", type_family(&row.get::<_, String>(2))),
        );
    }
    let indexes = client
        .query(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename <> 'flaky_schema_version' \
             AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            &[],
        )
        .await
        .expect("pg_indexes");
    for row in indexes {
        let definition: String = row.get(2);
        // `CREATE INDEX name ON public.table USING btree (a, b)`: the columns in brackets.
        let columns = definition
            .rsplit_once('(')
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .unwrap_or(&definition)
            .to_string();
        schema.indexes.insert(row.get(1), (row.get(0), columns));
    }
    drop(client);
    let _ = driver.await;
    schema
}

/// The SQLite and PostgreSQL migrations are written twice, by hand; this holds them to one
/// schema: the same tables, columns (types mapped, NULL or not) and named indexes.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_migrate_to_the_same_tables_columns_and_indexes() {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("history.db");
    drop(Store::open(&file).expect("a fresh SQLite store"));
    let sqlite = sqlite_schema(&file);
    assert!(
        sqlite.columns.contains_key("jobs") && sqlite.indexes.contains_key("runs_by_job"),
        "{sqlite:#?}"
    );

    let server = PgServer::start();
    let url = server.url();
    drop(Store::connect(&url).expect("a fresh PostgreSQL store"));
    assert_eq!(sqlite, postgres_schema(&url).await);

    // The comparison sees a column and an index that one engine lacks: PostgreSQL at
    // schema 1 has no `jobs.flaky_tests` and no `jobs_by_time`.
    sql(&url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;").await;
    drop(PgStore::connect_with(&url, &PG_MIGRATIONS[..1]).expect("schema 1"));
    let older = postgres_schema(&url).await;
    assert!(
        !older.columns["jobs"].contains_key("flaky_tests"),
        "{older:#?}"
    );
    assert!(!older.indexes.contains_key("jobs_by_time"), "{older:#?}");
    assert_ne!(sqlite, older);
}

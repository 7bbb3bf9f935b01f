//! History on real SQLite files in temp dirs: migrations (empty file, a schema-1 database
//! holding rows, twice, reopen), jobs recorded by the real pipeline and read back, per-test
//! figures and their ranking, retention, a failing write that keeps the summary, and a
//! reader that never sees half a job.

use crate::support::jobs as common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration, TimeZone, Utc};
use flaky_detector::analysis::{Severity, Verdict};
use flaky_detector::history::migrations::{MIGRATIONS, Migrated, latest, migrate, migrate_with};
use flaky_detector::history::{JobFilter, RunId, Store};
use rusqlite::Connection;
use tempfile::TempDir;

use common::*;

fn schema(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .expect("sqlite_master reads");
    stmt.query_map([], |row| row.get(0))
        .expect("sqlite_master reads")
        .collect::<Result<_, _>>()
        .expect("sqlite_master reads")
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0))
        .expect("a count query runs")
}

#[test]
fn an_empty_file_is_migrated_in_wal_mode_and_reopens_unchanged() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("history.db");
    let store = Store::open(&path).expect("a new database opens");
    assert_eq!(
        store.migrated(),
        Migrated {
            from: 0,
            to: latest()
        }
    );
    drop(store);
    assert!(
        !dir.path().join("history.db-wal").exists(),
        "closing the store checkpoints and removes its WAL"
    );

    let raw = Connection::open(&path).expect("the file opens");
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version reads");
    assert_eq!(version, latest());
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode reads");
    assert_eq!(mode, "wal", "WAL is a property of the file and persists");
    let before = schema(&raw);
    drop(raw);

    let store = Store::open(&path).expect("the database reopens");
    assert_eq!(
        store.migrated(),
        Migrated {
            from: latest(),
            to: latest()
        }
    );
    drop(store);
    let raw = Connection::open(&path).expect("the file opens");
    assert_eq!(schema(&raw), before, "reopening changes nothing");
}

#[test]
fn migrating_twice_is_a_no_op() {
    let dir = TempDir::new().expect("temp dir");
    let mut conn = Connection::open(dir.path().join("twice.db")).expect("the file opens");
    assert_eq!(migrate(&mut conn).expect("first").from, 0);
    let first = schema(&conn);
    let second = migrate(&mut conn).expect("second");
    assert_eq!(
        second,
        Migrated {
            from: latest(),
            to: latest()
        }
    );
    assert_eq!(schema(&conn), first);
}

/// A database written by a build that knew only migration 1, holding a job with runs and a
/// flaky test, brought up to date by opening it: the rows survive and the columns added
/// later are filled in from them.
#[test]
fn a_schema_1_database_holding_rows_is_migrated() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("v1.db");
    {
        let mut conn = Connection::open(&path).expect("the file opens");
        let done = migrate_with(&mut conn, &MIGRATIONS[..1]).expect("migration 1 applies");
        assert_eq!(done, Migrated { from: 0, to: 1 });
        conn.execute_batch(
            "INSERT INTO jobs (id, recorded_at, repo, test_command, framework, total_runs, \
             failures, failure_rate, ci_low, ci_high, verdict, severity, duration_seconds) \
             VALUES (7, 1767225600, 'https://example.com/old', 'pytest', 'python', 3, 1, 0.333, \
             0.06, 0.79, 'flaky', 'medium', 1.5);
             INSERT INTO job_summaries (job_id, summary) VALUES (7, '{\"warnings\": [\"old\"]}');
             INSERT INTO runs (job_id, attempt, seed, passed, exit_code, timed_out, duration_ms, \
             stdout, stderr, output_truncated_bytes) VALUES \
             (7, 0, 11, 1, 0, 0, 10, 'ok', '', 0), \
             (7, 1, 12, 0, 1, 0, 12, '', 'AssertionError', 0), \
             (7, 2, -1, 1, 0, 0, 9, 'ok', '', 0);
             INSERT INTO test_cases (id, repo, name) VALUES (3, 'https://example.com/old', 't::a');
             INSERT INTO test_results (job_id, test_case_id, runs, failures, failure_rate, ci_low, \
             ci_high, verdict, severity, failing_seeds) \
             VALUES (7, 3, 3, 1, 0.333, 0.06, 0.79, 'flaky', 'medium', '[12]');",
        )
        .expect("schema-1 rows insert");
    }

    let store = Store::open(&path).expect("the old database opens");
    assert_eq!(
        store.migrated(),
        Migrated {
            from: 1,
            to: latest()
        }
    );
    let detail = store
        .job(RunId(7))
        .expect("reads")
        .expect("the old job is still there");
    assert_eq!(
        detail.job.flaky_tests, 1,
        "migration 2 backfilled the count"
    );
    assert_eq!(detail.runs.len(), 3);
    assert_eq!(
        detail.runs[2].seed,
        u64::MAX,
        "-1 is the u64 seed's 64 bits"
    );
    assert_eq!(detail.excerpts.len(), 1);
    assert_eq!(detail.excerpts[0].stderr, "AssertionError");
    let tests = store
        .flakiest_tests(&JobFilter::default(), None)
        .expect("reads");
    assert_eq!(tests.len(), 1);
    assert_eq!((tests[0].name.as_str(), tests[0].failures), ("t::a", 1));
    assert_eq!(
        tests[0].last_seen.timestamp(),
        1_767_225_600,
        "migration 2 gave the result its job's time"
    );
    let january = JobFilter {
        from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        to: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        ..JobFilter::default()
    };
    assert_eq!(
        store.flakiest_tests(&january, None).expect("reads").len(),
        1
    );

    let raw = Connection::open(&path).expect("the file opens");
    for index in ["jobs_by_time", "jobs_by_repo_time", "test_results_by_case"] {
        let found = count(
            &raw,
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '{index}'"
            ),
        );
        assert_eq!(found, 1, "index {index} exists after migrating");
    }
}

#[test]
fn a_database_from_a_newer_build_is_refused_naming_the_file() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("future.db");
    Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "user_version", latest() + 5))
        .expect("user_version is writable");
    let error = Store::open(&path).expect_err("a newer schema is refused");
    let message = flaky_detector::errors::one_line(&error);
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("newer than this build knows"), "{message}");
}

#[test]
fn reading_a_missing_database_is_an_error_not_a_new_file() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("typo.db");
    let error = Store::open_existing(&path).expect_err("missing is an error");
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_job_is_recorded_before_it_is_returned_and_reads_back_whole() {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("h.db")).expect("opens"));
    let deps = deps(dir.path(), Some(Arc::clone(&store)));
    let repo = fixture_repo(dir.path(), "repo");
    let big = u64::MAX - 1; // ends in 4: fails, and is above i64::MAX
    let mut seeds: Vec<u64> = (1..=12).collect();
    seeds.push(big);
    let command = command_failing_on_digits("48", "boom");
    let summary = real_job(&deps, &repo, &command, &seeds).await;

    assert_eq!(
        summary.failing_seeds.len(),
        3,
        "seeds 4, 8 and {big} end in 4 or 8"
    );
    let id = RunId(summary.run_id.expect("detect() set run_id"));
    let stored = store.summary(id).expect("reads").expect("the job is there");
    assert_eq!(
        stored, summary,
        "history gives back exactly what detect() returned"
    );

    let detail = store.job(id).expect("reads").expect("the job is there");
    assert_eq!(detail.job.total_runs, 13);
    assert_eq!(detail.runs.len(), 13);
    let mut failing: Vec<u64> = detail
        .runs
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.seed)
        .collect();
    failing.sort_unstable();
    assert_eq!(failing, vec![4, 8, big]);
    assert!(detail.excerpts.iter().any(|e| e.stderr.contains("boom 8")));
    assert_eq!(
        detail.tests.len(),
        1,
        "the command stands in as the one test"
    );
    assert!(detail.tests[0].whole_command);
    assert_eq!(detail.tests[0].name, summary.test_command);
    assert_eq!(detail.job.verdict, Verdict::Flaky);
    assert_eq!(detail.reproduce, summary.reproduce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_history_write_is_a_warning_and_the_summary_survives() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("h.db");
    let store = Arc::new(Store::open(&path).expect("opens"));
    Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON runs \
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
            )
        })
        .expect("the trigger installs");
    let deps = deps(dir.path(), Some(Arc::clone(&store)));
    let repo = fixture_repo(dir.path(), "repo");
    let summary = real_job(
        &deps,
        &repo,
        &command_failing_on_digits("3", "x"),
        &[1, 2, 3],
    )
    .await;

    assert_eq!(summary.run_id, None);
    assert_eq!(summary.failures, 1, "the figures are all there");
    assert_eq!(summary.results.len(), 3);
    let warning = summary
        .warnings
        .iter()
        .find(|w| w.starts_with("not recorded in history"))
        .expect("the summary says it was not recorded");
    assert!(warning.contains("database or disk is full"), "{warning}");
    assert!(warning.contains(&path.display().to_string()), "{warning}");
    let raw = Connection::open(&path).expect("opens");
    assert_eq!(count(&raw, "SELECT count(*) FROM jobs"), 0, "no half job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_test_figures_are_ranked_filtered_and_trended() {
    let dir = TempDir::new().expect("temp dir");
    let store = Store::open(&dir.path().join("h.db")).expect("opens");
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let base = real_job(&deps, &repo, "true", &[1]).await;
    let seeds: Vec<u64> = (1..=100).collect();
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();

    // Job A on March 1st: `slow` fails 30 of 100 runs, `tiny` 1 of 2, `solid` never.
    let mut a = with_runs(&base, &seeds, &(1..=30).collect::<Vec<_>>());
    a.tests = vec![
        test_case("suite::slow", 100, &(1..=30).collect::<Vec<_>>()),
        test_case("suite::tiny", 2, &[1]),
        test_case("suite::solid", 100, &[]),
    ];
    store.record_at(&a, day(1)).expect("records");
    // Job B on March 3rd: `slow` fails 10 of 100, `broken` always; a runner listing
    // `broken` twice does not count it twice.
    let mut b = with_runs(&base, &seeds, &(1..=10).collect::<Vec<_>>());
    b.tests = vec![
        test_case("suite::slow", 100, &(1..=10).collect::<Vec<_>>()),
        test_case("suite::broken", 100, &seeds),
        test_case("suite::broken", 100, &seeds),
    ];
    store.record_at(&b, day(3)).expect("records");

    let all = JobFilter::default();
    let flaky = store.flakiest_tests(&all, None).expect("reads");
    let names: Vec<&str> = flaky.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["suite::slow", "suite::tiny"],
        "always-failing and stable tests are not flaky; 40/200 outranks 1/2 on the lower bound"
    );
    assert_eq!(
        (flaky[0].runs, flaky[0].failures, flaky[0].jobs),
        (200, 40, 2)
    );
    assert!(flaky[0].ci_low > flaky[1].ci_low);
    assert!(flaky[1].failure_rate > flaky[0].failure_rate);
    // The all-time totals and an aggregate over the results agree.
    let whole_year = JobFilter {
        from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        ..JobFilter::default()
    };
    assert_eq!(
        store.flakiest_tests(&whole_year, None).expect("reads"),
        flaky
    );
    let from_march_2 = JobFilter {
        from: Some(day(2).date_naive()),
        ..JobFilter::default()
    };
    let later = store.flakiest_tests(&from_march_2, None).expect("reads");
    assert_eq!(later.len(), 1, "only job B counts");
    assert_eq!((later[0].runs, later[0].failures), (100, 10));

    let overview = store.overview(&all).expect("reads");
    assert_eq!(overview.jobs, 2);
    assert_eq!(overview.runs, 200);
    assert_eq!(overview.failures, 40);
    assert_eq!(overview.flaky_tests, 2);
    let mean = overview.mean_failure_rate.expect("jobs had runs");
    assert!((mean - 0.2).abs() < 1e-9, "{mean}");

    let only_tiny = JobFilter {
        test: Some("tiny".into()),
        ..JobFilter::default()
    };
    assert_eq!(store.count_jobs(&only_tiny).expect("reads"), 1);
    let tests = store.flakiest_tests(&only_tiny, None).expect("reads");
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].name, "suite::tiny");

    let trend = store
        .trend(&all, day(1).date_naive(), day(4).date_naive())
        .expect("reads");
    let jobs: Vec<u64> = trend.iter().map(|d| d.jobs).collect();
    assert_eq!(jobs, vec![1, 0, 1, 0], "empty days are filled in");
    assert_eq!(trend[0].mean_failure_rate, Some(0.3));
    assert_eq!(trend[1].mean_failure_rate, None);
    let slow_trend = store
        .trend(
            &JobFilter {
                test: Some("slow".into()),
                ..JobFilter::default()
            },
            day(1).date_naive(),
            day(3).date_naive(),
        )
        .expect("reads");
    assert_eq!(
        slow_trend[2].mean_failure_rate,
        Some(0.1),
        "the test's own rate"
    );

    let counts = store.severity_counts(&all).expect("reads");
    assert_eq!(
        counts,
        vec![
            (Severity::None, 0),
            (Severity::Low, 0),
            (Severity::Medium, 2),
            (Severity::High, 0),
            (Severity::Critical, 0)
        ],
        "10% and 30% are both medium under the default thresholds"
    );
    let march_3 = JobFilter {
        from: Some(day(2).date_naive()),
        to: Some(day(3).date_naive()),
        ..JobFilter::default()
    };
    let listed = store.jobs(&march_3, 10, 0).expect("reads");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].failures, 10);
    assert_eq!(listed[0].flaky_tests, 1, "broken is not flaky, slow is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_jobs_with_their_runs_and_orphaned_tests() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("h.db");
    let store = Store::open(&path).expect("opens");
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let base = real_job(&deps, &repo, "true", &[1]).await;
    let seeds: Vec<u64> = (1..=10).collect();
    let mut old = with_runs(&base, &seeds, &[2]);
    old.tests = vec![test_case("only::old", 10, &[2])];
    let mut new = with_runs(&base, &seeds, &[3]);
    new.tests = vec![test_case("still::here", 10, &[3])];
    let now = Utc::now();
    store
        .record_at(&old, now - Duration::days(40))
        .expect("records");
    let kept = store.record_at(&new, now).expect("records");

    let deleted = store
        .delete_jobs_before(now - Duration::days(30))
        .expect("deletes");
    assert_eq!(deleted, 1);
    let raw = Connection::open(&path).expect("opens");
    assert_eq!(count(&raw, "SELECT count(*) FROM jobs"), 1);
    assert_eq!(
        count(&raw, "SELECT count(*) FROM runs"),
        10,
        "the old job's runs went with it (foreign keys are on)"
    );
    assert_eq!(count(&raw, "SELECT count(*) FROM test_results"), 1);
    let names: Vec<String> = raw
        .prepare("SELECT name FROM test_cases")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("reads");
    assert_eq!(names, vec!["still::here".to_string()]);
    assert!(store.job(kept).expect("reads").is_some());
    let flaky = store
        .flakiest_tests(&JobFilter::default(), None)
        .expect("reads");
    let flaky: Vec<(&str, u64, u64)> = flaky
        .iter()
        .map(|t| (t.name.as_str(), t.jobs, t.failures))
        .collect();
    assert_eq!(
        flaky,
        vec![("still::here", 1, 1)],
        "the totals were recomputed"
    );
}

/// A reader polling while a writer records 1,000-run jobs: every job it sees has all its
/// runs and all its test results, since a job is one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_sees_a_half_written_job() {
    const JOBS: usize = 15;
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("h.db");
    let store = Arc::new(Store::open(&path).expect("opens"));
    let deps = deps(dir.path(), None);
    let repo = fixture_repo(dir.path(), "repo");
    let base = real_job(&deps, &repo, "true", &[1]).await;
    let seeds: Vec<u64> = (1..=1000).collect();
    let mut job = with_runs(&base, &seeds, &(1..=1000).step_by(7).collect::<Vec<_>>());
    job.tests = (0..50)
        .map(|i| test_case(&format!("t::{i}"), 1000, &[i]))
        .collect();

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = Connection::open(&path).expect("a second connection opens");
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout sets");
            let mut polls = 0u64;
            let mut seen = std::collections::BTreeSet::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT j.id, j.total_runs, \
                         (SELECT count(*) FROM runs r WHERE r.job_id = j.id), \
                         (SELECT count(*) FROM test_results t WHERE t.job_id = j.id) FROM jobs j",
                    )
                    .expect("prepares");
                let rows: Vec<(i64, i64, i64, i64)> = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .and_then(|rows| rows.collect())
                    .expect("the poll reads");
                for (id, total, runs, tests) in &rows {
                    assert_eq!(total, runs, "job {id} seen with {runs} of {total} runs");
                    assert_eq!(*tests, 50, "job {id} seen with {tests} of 50 test results");
                }
                seen.insert(rows.len());
                polls += 1;
                if finished {
                    return (polls, seen);
                }
            }
        })
    };
    let writer = {
        let store = Arc::clone(&store);
        tokio::task::spawn_blocking(move || {
            for _ in 0..JOBS {
                store.record(&job).expect("a job records");
            }
        })
    };
    writer.await.expect("the writer finishes");
    done.store(true, Ordering::SeqCst);
    let (polls, seen) = reader.join().expect("the reader saw only whole jobs");
    assert_eq!(seen.last(), Some(&JOBS), "the last poll saw every job");
    eprintln!("{polls} polls saw job counts {seen:?}");

    // The store's own read connection agrees.
    let last = store
        .jobs(&JobFilter::default(), 1, 0)
        .expect("reads")
        .remove(0);
    let detail = store.job(last.id).expect("reads").expect("there");
    assert_eq!(detail.runs.len(), 1000);
}

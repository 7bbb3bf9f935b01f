//! One job's rows, over either engine's [`Exec`]: writing a finished job, reading its
//! summary back, deleting the old ones. These are the statements, not the stores: the shared
//! folder copies jobs between its SQLite files with them, and `Store` records and reads with
//! them, so neither has to name the other.

use std::fmt::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::columns::{RunId, StoredSeed, TestCaseId};
use super::error::HistoryError;
use super::sql::{DbError, Exec, Record, values};
use crate::analysis::Verdict;
use crate::summary::{Summary, TestCaseStats};

/// Writes `summary` as one job recorded at `recorded_at` (its runs, test cases and
/// per-test results with it), in the caller's transaction; `document` is
/// [`summary_document`] of it, made before the transaction since it may fail.
pub(super) fn insert(
    db: &mut dyn Exec,
    summary: &Summary,
    recorded_at: DateTime<Utc>,
    document: &str,
) -> Result<RunId, DbError> {
    let id = insert_job(db, summary, recorded_at, document)?;
    insert_runs(db, id, summary)?;
    insert_tests(db, id, summary, recorded_at.timestamp())?;
    Ok(id)
}

/// The summary JSON without `results`, which are rows in `runs`.
pub(super) fn summary_document(summary: &Summary) -> Result<String, HistoryError> {
    let mut value = serde_json::to_value(summary).map_err(HistoryError::Encode)?;
    if let Some(object) = value.as_object_mut() {
        object.remove("results");
        object.remove("run_id");
    }
    serde_json::to_string(&value).map_err(HistoryError::Encode)
}

fn insert_job(
    db: &mut dyn Exec,
    s: &Summary,
    recorded_at: DateTime<Utc>,
    document: &str,
) -> Result<RunId, DbError> {
    let flaky_tests = s
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Flaky)
        .count() as i64;
    let flaky_tests = if s.tests.is_empty() && s.verdict == Verdict::Flaky {
        1
    } else {
        flaky_tests
    };
    let row = db.row(
        "INSERT INTO jobs (recorded_at, repo, git_ref, checked_out_commit, commit_sha, branch, \
         pr_number, test_command, framework, total_runs, failures, failure_rate, ci_low, \
         ci_high, verdict, severity, classification, reproduce, duration_seconds, flaky_tests) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20) RETURNING id",
        &values![
            recorded_at.timestamp(),
            &s.repo,
            &s.git_ref,
            &s.commit,
            &s.commit_sha,
            &s.branch,
            s.pr_number.map(|n| n as i64),
            &s.test_command,
            s.framework,
            s.total_runs,
            s.failures,
            s.repro_rate,
            s.ci_low,
            s.ci_high,
            s.verdict,
            s.severity,
            s.classification,
            &s.reproduce,
            s.duration_seconds,
            flaky_tests,
        ],
    )?;
    let id: RunId = row.unwrap_or(Record(Vec::new())).get(0)?;
    db.execute(
        "INSERT INTO job_summaries (job_id, summary) VALUES (?1, ?2)",
        &values![id, document],
    )?;
    Ok(id)
}

/// The most runs one INSERT statement carries: 11 parameters each, so 2,816 per statement,
/// well under SQLite's 32,766 and PostgreSQL's 65,535. Sent one by one, a 1,000-run job was
/// 1,000 round trips to PostgreSQL; in statements of at most this many rows it is a few.
const RUNS_PER_INSERT: usize = 256;

/// Inserts the job's runs in multi-row statements: as many full statements of
/// [`RUNS_PER_INSERT`] rows as fit, then the rest in statements of power-of-two sizes
/// (232 = 128 + 64 + 32 + 8), so only nine statement texts ever exist and each engine's
/// statement cache keeps them all, whatever the job's run count.
fn insert_runs(db: &mut dyn Exec, job: RunId, s: &Summary) -> Result<(), DbError> {
    let mut rest = s.results.as_slice();
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(statement_rows(rest.len()));
        let mut params = Vec::with_capacity(chunk.len() * RUN_COLUMNS);
        for run in chunk {
            params.extend(values![
                job,
                run.attempt,
                StoredSeed(run.seed),
                run.passed,
                run.exit_code,
                run.signal,
                run.timed_out,
                run.duration_ms.min(i64::MAX as u64) as i64,
                &run.stdout,
                &run.stderr,
                run.output_truncated_bytes.min(i64::MAX as u64) as i64,
            ]);
        }
        db.execute(&insert_runs_statement(chunk.len()), &params)?;
        rest = after;
    }
    Ok(())
}

/// How many of the `left` runs the next statement inserts: a full statement, else the
/// largest power of two not above `left` (which is at least 1).
fn statement_rows(left: usize) -> usize {
    if left >= RUNS_PER_INSERT {
        RUNS_PER_INSERT
    } else {
        1 << left.max(1).ilog2()
    }
}

/// The columns of a `runs` row that a job sets.
const RUN_COLUMNS: usize = 11;

/// `INSERT INTO runs (…) VALUES (?1, …, ?11), (?12, …), …` for `rows` rows, in the SQL both
/// engines accept (placeholders are renamed for PostgreSQL like every statement's).
fn insert_runs_statement(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO runs (job_id, attempt, seed, passed, exit_code, signal, timed_out, \
         duration_ms, stdout, stderr, output_truncated_bytes) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..RUN_COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            // Writing to a String cannot fail.
            let _ = write!(sql, "?{}", row * RUN_COLUMNS + column + 1);
        }
        sql.push(')');
    }
    sql
}

fn insert_tests(
    db: &mut dyn Exec,
    job: RunId,
    s: &Summary,
    recorded_at: i64,
) -> Result<(), DbError> {
    let whole_command;
    let (tests, is_whole_command): (&[TestCaseStats], bool) = if !s.tests.is_empty() {
        (&s.tests, false)
    } else if s.total_runs > 0 {
        whole_command = [TestCaseStats {
            name: s.test_command.clone(),
            runs: s.total_runs,
            failures: s.failures,
            failure_rate: s.repro_rate,
            ci_low: s.ci_low,
            ci_high: s.ci_high,
            failing_seeds: s.failing_seeds.clone(),
            verdict: s.verdict,
            severity: s.severity,
            classification: s.classification,
            first_failure: None,
            severity_note: None,
            classname: None,
            failing_attempts: Vec::new(),
            mean_seconds: None,
        }];
        (&whole_command, true)
    } else {
        return Ok(());
    };
    for test in tests {
        // Columns of the row being updated are named with their table: PostgreSQL finds
        // a bare name ambiguous next to `excluded`.
        let case_id: TestCaseId = db
            .row(
                "INSERT INTO test_cases (repo, name, whole_command) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (repo, name) DO UPDATE SET whole_command = test_cases.whole_command \
                 RETURNING id",
                &values![&s.repo, &test.name, is_whole_command],
            )?
            .unwrap_or(Record(Vec::new()))
            .get(0)?;
        let seeds = serde_json::to_string(&test.failing_seeds)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let inserted = db.execute(
            "INSERT INTO test_results (job_id, test_case_id, runs, failures, failure_rate, \
             ci_low, ci_high, verdict, severity, classification, failing_seeds, first_failure, \
             severity_note, recorded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (job_id, test_case_id) DO NOTHING",
            &values![
                job,
                case_id,
                test.runs,
                test.failures,
                test.failure_rate,
                test.ci_low,
                test.ci_high,
                test.verdict,
                test.severity,
                test.classification,
                seeds,
                &test.first_failure,
                &test.severity_note,
                recorded_at,
            ],
        )?;
        // A name listed twice in one summary counts once, as its result row does.
        if inserted == 1 {
            db.execute(
                "INSERT INTO test_case_totals (test_case_id, jobs, flaky_jobs, runs, failures, \
                 last_seen) VALUES (?1, 1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (test_case_id) DO UPDATE SET jobs = test_case_totals.jobs + 1, \
                 flaky_jobs = test_case_totals.flaky_jobs + excluded.flaky_jobs, \
                 runs = test_case_totals.runs + excluded.runs, \
                 failures = test_case_totals.failures + excluded.failures, \
                 last_seen = CASE WHEN excluded.last_seen > test_case_totals.last_seen \
                     THEN excluded.last_seen ELSE test_case_totals.last_seen END",
                &values![
                    case_id,
                    test.verdict == Verdict::Flaky,
                    test.runs,
                    test.failures,
                    recorded_at
                ],
            )?;
        }
    }
    Ok(())
}

/// A recorded job's summary document and its runs, read in one transaction and decoded
/// after it ([`StoredSummary::decode`]).
pub(super) struct StoredSummary {
    document: String,
    results: Vec<serde_json::Value>,
}

/// The summary recorded as job `id`, with its runs, or `None` when there is no such job.
pub(super) fn read_summary(db: &mut dyn Exec, id: RunId) -> Result<Option<StoredSummary>, DbError> {
    let Some(document) = db.row(
        "SELECT summary FROM job_summaries WHERE job_id = ?1",
        &values![id],
    )?
    else {
        return Ok(None);
    };
    let document: String = document.get(0)?;
    // Built as JSON rather than as `RunResult`s, so fields added to the output
    // schema later take their serde defaults instead of breaking old rows.
    let results = db
        .rows(
            "SELECT attempt, exit_code, stdout, stderr, passed, seed, duration_ms, \
                 timed_out, signal, output_truncated_bytes FROM runs WHERE job_id = ?1 \
                 ORDER BY id",
            &values![id],
        )?
        .iter()
        .map(|row| {
            let mut run = json!({
                "attempt": row.get::<u32>(0)?,
                "exit_code": row.get::<Option<i32>>(1)?,
                "stdout": row.get::<String>(2)?,
                "stderr": row.get::<String>(3)?,
                "passed": row.get::<bool>(4)?,
                "seed": row.get::<StoredSeed>(5)?.0,
                "duration_ms": row.get::<i64>(6)?.max(0),
                "timed_out": row.get::<bool>(7)?,
            });
            if let Some(signal) = row.get::<Option<i32>>(8)? {
                run["signal"] = signal.into();
            }
            let truncated = row.get::<i64>(9)?;
            if truncated > 0 {
                run["output_truncated_bytes"] = truncated.into();
            }
            Ok(run)
        })
        .collect::<Result<Vec<serde_json::Value>, DbError>>()?;
    Ok(Some(StoredSummary { document, results }))
}

impl StoredSummary {
    /// The summary as `detect()` returned it, with its results and `run_id`; `path` is the
    /// database it was read from, for the error.
    pub(super) fn decode(self, id: RunId, path: &Path) -> Result<Summary, HistoryError> {
        let decode_error = |source| HistoryError::Decode {
            path: path.to_path_buf(),
            id: id.0,
            source,
        };
        let mut value: serde_json::Value =
            serde_json::from_str(&self.document).map_err(decode_error)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("results".into(), self.results.into());
            object.insert("run_id".into(), id.0.into());
        }
        serde_json::from_value(value).map_err(decode_error)
    }
}

/// Retention: deletes the jobs recorded before `cutoff` with their runs and results,
/// recomputes the per-test totals from the results left, then deletes the test cases no job
/// mentions any more. Returns how many jobs went.
pub(super) fn delete_before(db: &mut dyn Exec, cutoff: DateTime<Utc>) -> Result<usize, DbError> {
    let deleted = db.execute(
        "DELETE FROM jobs WHERE recorded_at < ?1",
        &values![cutoff.timestamp()],
    )?;
    if deleted > 0 {
        db.execute("DELETE FROM test_case_totals", &[])?;
        db.execute(
            "INSERT INTO test_case_totals \
                 (test_case_id, jobs, flaky_jobs, runs, failures, last_seen) \
             SELECT test_case_id, count(*), \
                 sum(CASE WHEN verdict = 'flaky' THEN 1 ELSE 0 END), sum(runs), \
                 sum(failures), max(recorded_at) \
             FROM test_results GROUP BY test_case_id",
            &[],
        )?;
        db.execute(
            "DELETE FROM test_cases WHERE NOT EXISTS \
             (SELECT 1 FROM test_results r WHERE r.test_case_id = test_cases.id)",
            &[],
        )?;
    }
    Ok(deleted as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_go_in_few_statements_of_few_sizes() {
        let mut sizes = Vec::new();
        let mut left = 1000;
        while left > 0 {
            let rows = statement_rows(left);
            sizes.push(rows);
            left -= rows;
        }
        assert_eq!(sizes, [256, 256, 256, 128, 64, 32, 8]);
        assert_eq!(statement_rows(1), 1);
        assert_eq!(statement_rows(255), 128);
    }

    #[test]
    fn a_runs_statement_numbers_every_parameter() {
        let sql = insert_runs_statement(2);
        assert!(sql.ends_with(
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11), \
             (?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
        ));
    }
}

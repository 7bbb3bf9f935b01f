//! Writing a finished job: [`Store::record`] puts a [`Summary`] (job, runs, test cases and
//! per-test results) in one transaction, and [`record_summary`] is the async step `detect()`
//! ends with, which never loses the summary when the write fails.

use std::fmt::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::columns::{RunId, StoredSeed, TestCaseId};
use super::sql::{DbError, Exec, Record, values};
use super::store::{HistoryError, Store};
use crate::analysis::Verdict;
use crate::errors::one_line;
use crate::summary::{Summary, TestCaseStats};

impl Store {
    /// Records `summary` as recorded now. See [`Store::record_at`].
    pub fn record(&self, summary: &Summary) -> Result<RunId, HistoryError> {
        self.record_at(summary, Utc::now())
    }

    /// Records `summary` with `recorded_at` as its time, in one transaction: a reader sees
    /// the whole job with all its runs, or nothing of it. A job without per-test figures is
    /// recorded with its command as its one test case, so the flakiest-tests view still
    /// covers runners that give no per-test report.
    /// In a shared folder the job goes to this worker's own file.
    pub fn record_at(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
    ) -> Result<RunId, HistoryError> {
        match self.folder().and_then(|folder| folder.own()) {
            Some(own) => own.record_here(summary, recorded_at),
            None => self.record_here(summary, recorded_at),
        }
    }

    /// Records into this store's own database (for a folder, the merged copy).
    pub(super) fn record_here(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
    ) -> Result<RunId, HistoryError> {
        let document = summary_document(summary)?;
        self.write(|db| {
            let id = insert_job(db, summary, recorded_at, &document)?;
            insert_runs(db, id, summary)?;
            insert_tests(db, id, summary, recorded_at.timestamp())?;
            Ok(id)
        })
    }
}

/// The summary JSON without `results`, which are rows in `runs`.
fn summary_document(summary: &Summary) -> Result<String, HistoryError> {
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

/// Records `summary` off the async threads and returns it with `run_id` set. A failed write
/// is logged and noted in `warnings`: the summary is still reported, since losing a finished
/// job's figures to a full disk or a database that is down would be worse than a late
/// history row. When the store keeps failed writes ([`Store::keep_failed_writes_in`]), the
/// job is saved for a later write, and a successful write first records the jobs waiting.
pub async fn record_summary(store: &Arc<Store>, summary: Summary) -> Summary {
    let writer = Arc::clone(store);
    let shared = Arc::new(summary);
    let task_copy = Arc::clone(&shared);
    let outcome = tokio::task::spawn_blocking(move || {
        let recorded_at = Utc::now();
        let result = writer.record_at(&task_copy, recorded_at);
        match &result {
            Ok(_) => {
                writer.retry_pending();
                (result, None)
            }
            Err(_) => {
                let saved = writer.save_pending(&task_copy, recorded_at);
                (result, saved)
            }
        }
    })
    .await;
    // The task has ended (finished, panicked or never started) and dropped its handle, so
    // this is the only one left; the clone is a fallback that should never run.
    let mut summary =
        Arc::try_unwrap(shared).unwrap_or_else(|still_shared| (*still_shared).clone());
    let (failure, saved) = match outcome {
        Ok((Ok(id), _)) => {
            summary.run_id = Some(id.0);
            return summary;
        }
        Ok((Err(error), saved)) => (one_line(&error), saved),
        Err(join) => (format!("the history write did not finish: {join}"), None),
    };
    tracing::warn!(error = %failure, "history write failed");
    let retry = match saved {
        Some(Ok(path)) => format!(
            "; kept in {} and written when the database is back",
            path.display()
        ),
        Some(Err(error)) => format!("; it could not be kept for a later write either: {error}"),
        None => String::new(),
    };
    summary
        .warnings
        .push(format!("not recorded in history: {failure}{retry}"));
    summary
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

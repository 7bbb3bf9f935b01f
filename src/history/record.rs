//! Writing a finished job: [`Store::record`] puts a [`Summary`] (job, runs, test cases and
//! per-test results) in one transaction, and [`record_summary`] is the async step `detect()`
//! ends with, which never loses the summary when the write fails.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, TransactionBehavior, params};

use super::columns::{RunId, StoredSeed, TestCaseId};
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
        let mut conn = self.writer();
        // IMMEDIATE takes the write lock up front, so the busy timeout applies at BEGIN
        // rather than failing on a read-to-write upgrade halfway.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.write_error(e))?;
        let id = insert_job(&tx, summary, recorded_at, &document)
            .and_then(|id| {
                insert_runs(&tx, id, summary)?;
                insert_tests(&tx, id, summary, recorded_at.timestamp())?;
                Ok(id)
            })
            .map_err(|e| self.write_error(e))?;
        tx.commit().map_err(|e| self.write_error(e))?;
        Ok(id)
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
    tx: &Transaction<'_>,
    s: &Summary,
    recorded_at: DateTime<Utc>,
    document: &str,
) -> rusqlite::Result<RunId> {
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
    tx.prepare_cached(
        "INSERT INTO jobs (recorded_at, repo, git_ref, checked_out_commit, commit_sha, branch, \
         pr_number, test_command, framework, total_runs, failures, failure_rate, ci_low, \
         ci_high, verdict, severity, classification, reproduce, duration_seconds, flaky_tests) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20)",
    )?
    .execute(params![
        recorded_at.timestamp(),
        s.repo,
        s.git_ref,
        s.commit,
        s.commit_sha,
        s.branch,
        s.pr_number.map(|n| n as i64),
        s.test_command,
        s.framework,
        s.total_runs,
        s.failures,
        s.repro_rate,
        s.ci_low,
        s.ci_high,
        s.verdict,
        s.severity,
        s.classification,
        s.reproduce,
        s.duration_seconds,
        flaky_tests,
    ])?;
    let id = RunId(tx.last_insert_rowid());
    tx.prepare_cached("INSERT INTO job_summaries (job_id, summary) VALUES (?1, ?2)")?
        .execute(params![id, document])?;
    Ok(id)
}

fn insert_runs(tx: &Transaction<'_>, job: RunId, s: &Summary) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO runs (job_id, attempt, seed, passed, exit_code, signal, timed_out, \
         duration_ms, stdout, stderr, output_truncated_bytes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for run in &s.results {
        insert.execute(params![
            job,
            run.attempt,
            StoredSeed(run.seed),
            run.passed,
            run.exit_code,
            run.signal,
            run.timed_out,
            run.duration_ms.min(i64::MAX as u64) as i64,
            run.stdout,
            run.stderr,
            run.output_truncated_bytes.min(i64::MAX as u64) as i64,
        ])?;
    }
    Ok(())
}

fn insert_tests(
    tx: &Transaction<'_>,
    job: RunId,
    s: &Summary,
    recorded_at: i64,
) -> rusqlite::Result<()> {
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
        }];
        (&whole_command, true)
    } else {
        return Ok(());
    };
    let mut case = tx.prepare_cached(
        "INSERT INTO test_cases (repo, name, whole_command) VALUES (?1, ?2, ?3) \
         ON CONFLICT (repo, name) DO UPDATE SET whole_command = whole_command \
         RETURNING id",
    )?;
    let mut result = tx.prepare_cached(
        "INSERT INTO test_results (job_id, test_case_id, runs, failures, failure_rate, ci_low, \
         ci_high, verdict, severity, classification, failing_seeds, first_failure, \
         severity_note, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (job_id, test_case_id) DO NOTHING",
    )?;
    let mut totals = tx.prepare_cached(
        "INSERT INTO test_case_totals (test_case_id, jobs, flaky_jobs, runs, failures, \
         last_seen) VALUES (?1, 1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (test_case_id) DO UPDATE SET jobs = jobs + 1, \
         flaky_jobs = flaky_jobs + excluded.flaky_jobs, runs = runs + excluded.runs, \
         failures = failures + excluded.failures, \
         last_seen = max(last_seen, excluded.last_seen)",
    )?;
    for test in tests {
        let case_id: TestCaseId = case
            .query_row(params![s.repo, test.name, is_whole_command], |row| {
                row.get(0)
            })?;
        let seeds = serde_json::to_string(&test.failing_seeds)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let inserted = result.execute(params![
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
            test.first_failure,
            test.severity_note,
            recorded_at,
        ])?;
        // A name listed twice in one summary counts once, as its result row does.
        if inserted == 1 {
            totals.execute(params![
                case_id,
                test.verdict == Verdict::Flaky,
                test.runs,
                test.failures,
                recorded_at
            ])?;
        }
    }
    Ok(())
}

/// Records `summary` off the async threads and returns it with `run_id` set. A failed write
/// is logged and noted in `warnings`: the summary is still reported, since losing a finished
/// job's figures to a full disk would be worse than missing one history row.
pub async fn record_summary(store: &Arc<Store>, summary: Summary) -> Summary {
    let writer = Arc::clone(store);
    let shared = Arc::new(summary);
    let task_copy = Arc::clone(&shared);
    let outcome = tokio::task::spawn_blocking(move || writer.record(&task_copy)).await;
    // The task has ended (finished, panicked or never started) and dropped its handle, so
    // this is the only one left; the clone is a fallback that should never run.
    let mut summary =
        Arc::try_unwrap(shared).unwrap_or_else(|still_shared| (*still_shared).clone());
    let failure = match outcome {
        Ok(Ok(id)) => {
            summary.run_id = Some(id.0);
            return summary;
        }
        Ok(Err(error)) => one_line(&error),
        Err(join) => format!("the history write did not finish: {join}"),
    };
    tracing::warn!(error = %failure, "history write failed");
    summary
        .warnings
        .push(format!("not recorded in history: {failure}"));
    summary
}

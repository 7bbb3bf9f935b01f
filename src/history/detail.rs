//! One job read back: [`JobDetail`] for the job page (per-test figures, every run's seed and
//! outcome, error excerpts of the first failing runs) and [`Store::summary`], the summary as
//! it was recorded.

use serde::Serialize;

use super::columns::{RunId, StoredSeed, TestCaseId};
use super::error::HistoryError;
use super::jobs;
use super::queries::{JOB_COLUMNS, JobRow};
use super::sql::{DbError, values};
use super::store::Store;
use crate::analysis::{Severity, Verdict};
use crate::summary::{Classification, Summary};

/// How many failing runs' output a job page shows.
pub const EXCERPT_RUNS: usize = 20;
/// Characters kept from the end of each stream of an excerpt.
pub const EXCERPT_CHARS: usize = 4000;

/// Everything the job page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDetail {
    pub job: JobRow,
    pub commit_sha: Option<String>,
    pub classification: Option<Classification>,
    pub reproduce: Option<String>,
    pub warnings: Vec<String>,
    pub tests: Vec<TestInJob>,
    pub runs: Vec<RunSummary>,
    pub excerpts: Vec<Excerpt>,
}

/// A test case's figures in one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestInJob {
    pub test_case: TestCaseId,
    pub name: String,
    pub whole_command: bool,
    pub runs: u32,
    pub failures: u32,
    pub failure_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub verdict: Verdict,
    pub severity: Severity,
    pub classification: Option<Classification>,
    pub failing_seeds: Vec<u64>,
    pub first_failure: Option<String>,
    pub severity_note: Option<String>,
}

/// A run without its output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub attempt: u32,
    pub seed: u64,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// The end of a failing run's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excerpt {
    pub attempt: u32,
    pub seed: u64,
    pub stdout: String,
    pub stderr: String,
}

impl Store {
    /// The job with id `id`, or `None` when there is none (or retention removed it).
    pub fn job(&self, id: RunId) -> Result<Option<JobDetail>, HistoryError> {
        // One read transaction, so the job, its tests and its runs come from one snapshot
        // even if retention deletes the job meanwhile.
        self.read(|db| {
            let head = db.row(
                &format!(
                    "SELECT {JOB_COLUMNS}, j.commit_sha, j.classification, j.reproduce, \
                     s.summary FROM jobs j LEFT JOIN job_summaries s ON s.job_id = j.id \
                     WHERE j.id = ?1"
                ),
                &values![id],
            )?;
            let Some(head) = head else {
                return Ok(None);
            };
            let job = JobRow::from_record(&head)?;
            let document: Option<String> = head.get(21)?;
            let warnings = document
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .and_then(|v| serde_json::from_value(v.get("warnings")?.clone()).ok())
                .unwrap_or_default();
            let tests = db
                .rows(
                    "SELECT r.test_case_id, c.name, c.whole_command, r.runs, r.failures, \
                     r.failure_rate, r.ci_low, r.ci_high, r.verdict, r.severity, \
                     r.classification, r.failing_seeds, r.first_failure, r.severity_note \
                     FROM test_results r JOIN test_cases c ON c.id = r.test_case_id \
                     WHERE r.job_id = ?1 ORDER BY r.failure_rate DESC, c.name",
                    &values![id],
                )?
                .iter()
                .map(|row| {
                    let seeds: String = row.get(11)?;
                    Ok(TestInJob {
                        test_case: row.get(0)?,
                        name: row.get(1)?,
                        whole_command: row.get(2)?,
                        runs: row.get(3)?,
                        failures: row.get(4)?,
                        failure_rate: row.get(5)?,
                        ci_low: row.get(6)?,
                        ci_high: row.get(7)?,
                        verdict: row.get(8)?,
                        severity: row.get(9)?,
                        classification: row.get(10)?,
                        failing_seeds: serde_json::from_str(&seeds).unwrap_or_default(),
                        first_failure: row.get(12)?,
                        severity_note: row.get(13)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            let runs = db
                .rows(
                    "SELECT attempt, seed, passed, exit_code, signal, timed_out, duration_ms \
                     FROM runs WHERE job_id = ?1 ORDER BY attempt, id",
                    &values![id],
                )?
                .iter()
                .map(|row| {
                    Ok(RunSummary {
                        attempt: row.get(0)?,
                        seed: row.get::<StoredSeed>(1)?.0,
                        passed: row.get(2)?,
                        exit_code: row.get(3)?,
                        signal: row.get(4)?,
                        timed_out: row.get(5)?,
                        duration_ms: row.get::<i64>(6)?.max(0) as u64,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            // The last EXCERPT_CHARS characters, in SQL both engines read alike.
            let excerpts = db
                .rows(
                    "SELECT attempt, seed, \
                     CASE WHEN length(stdout) > ?2 THEN substr(stdout, length(stdout) - ?2 + 1) \
                          ELSE stdout END, \
                     CASE WHEN length(stderr) > ?2 THEN substr(stderr, length(stderr) - ?2 + 1) \
                          ELSE stderr END \
                     FROM runs WHERE job_id = ?1 AND passed = 0 ORDER BY attempt, id LIMIT ?3",
                    &values![id, EXCERPT_CHARS as i64, EXCERPT_RUNS as i64],
                )?
                .iter()
                .map(|row| {
                    Ok(Excerpt {
                        attempt: row.get(0)?,
                        seed: row.get::<StoredSeed>(1)?.0,
                        stdout: row.get(2)?,
                        stderr: row.get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            Ok(Some(JobDetail {
                job,
                commit_sha: head.get(18)?,
                classification: head.get(19)?,
                reproduce: head.get(20)?,
                warnings,
                tests,
                runs,
                excerpts,
            }))
        })
    }

    /// The summary recorded as job `id`, with its results and `run_id`, as `detect()`
    /// returned it; for reports sent again from history.
    pub fn summary(&self, id: RunId) -> Result<Option<Summary>, HistoryError> {
        self.read(|db| jobs::read_summary(db, id))?
            .map(|stored| stored.decode(id, self.path()))
            .transpose()
    }
}

//! The aggregate reads behind `history` and the dashboard: [`Overview`], the per-day
//! [`TrendDay`]s, the severity distribution, the flakiest [`FlakyTest`]s and the job list
//! ([`JobRow`]). Each is one SQL statement over indexed columns of `jobs` and `test_results`;
//! none reads `runs`, so their cost does not grow with the number of runs.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use super::columns::{RunId, TestCaseId, timestamp};
use super::error::HistoryError;
use super::filter::{JobFilter, day_of, day_start};
use super::sql::{DbError, Record};
use super::store::Store;
use crate::analysis::{Severity, Verdict, wilson};
use crate::framework::Framework;

/// The headline figures of a selection of jobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub jobs: u64,
    pub runs: u64,
    pub failures: u64,
    /// Test cases found flaky in at least one job (the length of the full flakiest list).
    pub flaky_tests: u64,
    /// Mean of the jobs' failure rates; `None` when no job had a run.
    pub mean_failure_rate: Option<f64>,
    pub repos: u64,
}

/// One UTC day of the trend. Days without jobs are included with `jobs: 0`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendDay {
    pub day: NaiveDate,
    pub jobs: u64,
    pub mean_failure_rate: Option<f64>,
}

/// A test case's record across the selected jobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakyTest {
    pub id: TestCaseId,
    pub repo: String,
    pub name: String,
    /// The job's command standing in for a runner without per-test reports.
    pub whole_command: bool,
    pub jobs: u64,
    pub flaky_jobs: u64,
    pub runs: u64,
    pub failures: u64,
    pub failure_rate: f64,
    /// 95 % Wilson interval of the pooled failure rate.
    pub ci_low: f64,
    pub ci_high: f64,
    pub last_seen: DateTime<Utc>,
}

/// A job as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub id: RunId,
    pub recorded_at: DateTime<Utc>,
    pub repo: String,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub pr_number: Option<i64>,
    pub test_command: String,
    pub framework: Framework,
    pub total_runs: u32,
    pub failures: u32,
    pub failure_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub verdict: Verdict,
    pub severity: Severity,
    pub flaky_tests: u32,
    pub duration_seconds: f64,
}

pub(super) const JOB_COLUMNS: &str = "j.id, j.recorded_at, j.repo, j.git_ref, \
    j.checked_out_commit, j.branch, j.pr_number, j.test_command, j.framework, j.total_runs, \
    j.failures, j.failure_rate, j.ci_low, j.ci_high, j.verdict, j.severity, j.flaky_tests, \
    j.duration_seconds";

impl JobRow {
    pub(super) fn from_record(row: &Record) -> Result<JobRow, DbError> {
        Ok(JobRow {
            id: row.get(0)?,
            recorded_at: timestamp(row.get(1)?),
            repo: row.get(2)?,
            git_ref: row.get(3)?,
            commit: row.get(4)?,
            branch: row.get(5)?,
            pr_number: row.get(6)?,
            test_command: row.get(7)?,
            framework: row.get(8)?,
            total_runs: row.get(9)?,
            failures: row.get(10)?,
            failure_rate: row.get(11)?,
            ci_low: row.get(12)?,
            ci_high: row.get(13)?,
            verdict: row.get(14)?,
            severity: row.get(15)?,
            flaky_tests: row.get(16)?,
            duration_seconds: row.get(17)?,
        })
    }
}

/// A count as read: never negative.
fn count(row: &Record, index: usize) -> Result<u64, DbError> {
    Ok(row.get::<Option<i64>>(index)?.unwrap_or(0).max(0) as u64)
}

impl Store {
    /// Jobs, runs, flaky tests and the mean failure rate of the selected jobs.
    pub fn overview(&self, filter: &JobFilter) -> Result<Overview, HistoryError> {
        let flaky_tests = self.flaky_test_count(filter)?;
        let c = filter.condition();
        // Sums are cast back to BIGINT: PostgreSQL widens a sum of BIGINTs to NUMERIC.
        let sql = format!(
            "SELECT count(*), CAST(sum(j.total_runs) AS BIGINT), \
             CAST(sum(j.failures) AS BIGINT), \
             avg(CASE WHEN j.total_runs > 0 THEN j.failure_rate END), count(DISTINCT j.repo) \
             FROM jobs j {}",
            c.where_clause()
        );
        self.read(|db| {
            let row = db.row(&sql, &c.params)?.unwrap_or(Record(Vec::new()));
            Ok(Overview {
                jobs: count(&row, 0)?,
                runs: count(&row, 1)?,
                failures: count(&row, 2)?,
                flaky_tests,
                mean_failure_rate: row.get(3)?,
                repos: count(&row, 4)?,
            })
        })
    }

    fn flaky_test_count(&self, filter: &JobFilter) -> Result<u64, HistoryError> {
        let (sql, c) = match filter.totals_condition() {
            Some(mut c) => {
                c.push("t.flaky_jobs > 0", []);
                let sql = format!(
                    "SELECT count(*) FROM test_case_totals t \
                     JOIN test_cases c ON c.id = t.test_case_id {}",
                    c.where_clause()
                );
                (sql, c)
            }
            None => {
                let mut c = filter.result_condition();
                c.push("r.verdict = 'flaky'", []);
                let sql = format!(
                    "SELECT count(DISTINCT r.test_case_id) FROM test_results r {}",
                    c.where_clause()
                );
                (sql, c)
            }
        };
        self.read(|db| match db.row(&sql, &c.params)? {
            Some(row) => count(&row, 0),
            None => Ok(0),
        })
    }

    /// Jobs and mean failure rate per UTC day from `first` to `last`, both included, gaps
    /// filled with empty days. With a test filter, the rate is that of the matching tests.
    pub fn trend(
        &self,
        filter: &JobFilter,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<TrendDay>, HistoryError> {
        let end = last.checked_add_days(Days::new(1)).unwrap_or(last);
        let (sql, params) = if filter.test.is_some() {
            let mut c = filter.result_condition();
            c.push(
                "r.recorded_at >= ? AND r.recorded_at < ?",
                [day_start(first).into(), day_start(end).into()],
            );
            let sql = format!(
                "SELECT r.recorded_at / 86400 AS day, count(DISTINCT r.job_id), \
                 avg(CASE WHEN r.runs > 0 THEN r.failure_rate END) FROM test_results r \
                 {} GROUP BY day ORDER BY day",
                c.where_clause()
            );
            (sql, c.params)
        } else {
            let mut c = filter.condition();
            c.push(
                "j.recorded_at >= ? AND j.recorded_at < ?",
                [day_start(first).into(), day_start(end).into()],
            );
            let sql = format!(
                "SELECT j.recorded_at / 86400 AS day, count(*), \
                 avg(CASE WHEN j.total_runs > 0 THEN j.failure_rate END) FROM jobs j \
                 {} GROUP BY day ORDER BY day",
                c.where_clause()
            );
            (sql, c.params)
        };
        let found: Vec<TrendDay> = self.read(|db| {
            db.rows(&sql, &params)?
                .iter()
                .map(|row| {
                    Ok(TrendDay {
                        day: day_of(row.get::<i64>(0)? * 86_400),
                        jobs: count(row, 1)?,
                        mean_failure_rate: row.get(2)?,
                    })
                })
                .collect()
        })?;
        let mut found = found.into_iter().peekable();
        let days = first.iter_days().take_while(|day| *day <= last);
        Ok(days
            .map(|day| match found.next_if(|d| d.day == day) {
                Some(found) => found,
                None => TrendDay {
                    day,
                    jobs: 0,
                    mean_failure_rate: None,
                },
            })
            .collect())
    }

    /// How many selected jobs fell in each severity band, from `none` to `critical`.
    pub fn severity_counts(
        &self,
        filter: &JobFilter,
    ) -> Result<Vec<(Severity, u64)>, HistoryError> {
        let c = filter.condition();
        let sql = format!(
            "SELECT j.severity, count(*) FROM jobs j {} GROUP BY j.severity",
            c.where_clause()
        );
        let counts: Vec<(Severity, u64)> = self.read(|db| {
            db.rows(&sql, &c.params)?
                .iter()
                .map(|row| Ok((row.get(0)?, count(row, 1)?)))
                .collect()
        })?;
        Ok(SEVERITIES
            .iter()
            .map(|s| {
                let n = counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect())
    }

    /// Test cases found flaky in at least one selected job, ranked by the lower bound of
    /// their pooled failure rate's interval: a test that failed 300 of 1,000 runs outranks
    /// one that failed 1 of 2, though its rate is lower. `limit` `None` returns them all.
    pub fn flakiest_tests(
        &self,
        filter: &JobFilter,
        limit: Option<usize>,
    ) -> Result<Vec<FlakyTest>, HistoryError> {
        let (sql, c) = match filter.totals_condition() {
            Some(mut c) => {
                c.push("t.flaky_jobs > 0", []);
                let sql = format!(
                    "SELECT t.test_case_id, c.repo, c.name, c.whole_command, t.jobs, \
                     t.flaky_jobs, t.runs, t.failures, t.last_seen FROM test_case_totals t \
                     JOIN test_cases c ON c.id = t.test_case_id {}",
                    c.where_clause()
                );
                (sql, c)
            }
            None => flakiest_over_results(filter),
        };
        let mut tests: Vec<FlakyTest> = self.read(|db| {
            db.rows(&sql, &c.params)?
                .iter()
                .map(|row| {
                    let runs = count(row, 6)?;
                    let failures = count(row, 7)?;
                    let interval = wilson(
                        failures.min(u64::from(u32::MAX)) as u32,
                        runs.min(u64::from(u32::MAX)) as u32,
                    );
                    Ok(FlakyTest {
                        id: row.get(0)?,
                        repo: row.get(1)?,
                        name: row.get(2)?,
                        whole_command: row.get(3)?,
                        jobs: count(row, 4)?,
                        flaky_jobs: count(row, 5)?,
                        runs,
                        failures,
                        failure_rate: if runs == 0 {
                            0.0
                        } else {
                            failures as f64 / runs as f64
                        },
                        ci_low: interval.low,
                        ci_high: interval.high,
                        last_seen: timestamp(row.get(8)?),
                    })
                })
                .collect()
        })?;
        tests.sort_by(|a, b| {
            b.ci_low
                .total_cmp(&a.ci_low)
                .then(b.failure_rate.total_cmp(&a.failure_rate))
                .then_with(|| a.name.cmp(&b.name))
        });
        if let Some(limit) = limit {
            tests.truncate(limit);
        }
        Ok(tests)
    }

    /// The selected jobs, newest first.
    pub fn jobs(
        &self,
        filter: &JobFilter,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<JobRow>, HistoryError> {
        let c = filter.condition();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j {} ORDER BY j.recorded_at DESC, j.id DESC \
             LIMIT {limit} OFFSET {offset}",
            c.where_clause()
        );
        self.read(|db| {
            db.rows(&sql, &c.params)?
                .iter()
                .map(JobRow::from_record)
                .collect()
        })
    }

    /// How many jobs the filter selects (for paging).
    pub fn count_jobs(&self, filter: &JobFilter) -> Result<u64, HistoryError> {
        let c = filter.condition();
        let sql = format!("SELECT count(*) FROM jobs j {}", c.where_clause());
        self.read(|db| match db.row(&sql, &c.params)? {
            Some(row) => count(&row, 0),
            None => Ok(0),
        })
    }

    /// Every repository with a recorded job, sorted.
    pub fn repos(&self) -> Result<Vec<String>, HistoryError> {
        self.read(|db| {
            db.rows("SELECT DISTINCT repo FROM jobs ORDER BY repo", &[])?
                .iter()
                .map(|row| row.get(0))
                .collect()
        })
    }

    /// The time of the newest recorded job, if any.
    pub fn last_recorded(&self) -> Result<Option<DateTime<Utc>>, HistoryError> {
        self.read(
            |db| match db.row("SELECT max(recorded_at) FROM jobs", &[])? {
                Some(row) => Ok(row.get::<Option<i64>>(0)?.map(timestamp)),
                None => Ok(None),
            },
        )
    }
}

/// The flakiest-tests aggregate over the results themselves, for filters the all-time
/// totals cannot answer: the covering index is aggregated first, then the (few) flaky test
/// cases are named.
fn flakiest_over_results(filter: &JobFilter) -> (String, super::filter::Condition) {
    let c = filter.result_condition();
    let flaky = "sum(CASE WHEN r.verdict = 'flaky' THEN 1 ELSE 0 END)";
    let sql = format!(
        "SELECT a.test_case_id, c.repo, c.name, c.whole_command, a.jobs, a.flaky_jobs, \
         a.runs, a.failures, a.last_seen FROM ( \
           SELECT r.test_case_id, count(*) AS jobs, CAST({flaky} AS BIGINT) AS flaky_jobs, \
           CAST(sum(r.runs) AS BIGINT) AS runs, CAST(sum(r.failures) AS BIGINT) AS failures, \
           max(r.recorded_at) AS last_seen \
           FROM test_results r {} GROUP BY r.test_case_id HAVING {flaky} > 0 \
         ) a JOIN test_cases c ON c.id = a.test_case_id",
        c.where_clause()
    );
    (sql, c)
}

/// The bands in display order.
pub const SEVERITIES: [Severity; 5] = [
    Severity::None,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

//! A test's status with its strength ([`Standing`]): `flaky`, `broken`, `fixed?`, `fixed` or
//! `stable`, computed from the jobs that ran it ([`standing`], a pure function), and the one
//! read that gives those jobs per test ([`Store::test_histories`], the same SQL on SQLite and
//! PostgreSQL).
//!
//! `fixed` is earned, and says what it is worth: n clean runs in a row since the last failure,
//! with n the smallest number for which a test failing at the team's `fixed_below` rate would
//! have failed at least once with 95 % probability ("≤ 1 % after 299 clean runs").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::columns::{RunId, timestamp};
use super::error::HistoryError;
use super::sql::{Value, values};
use super::store::Store;
use crate::analysis::stats::round3;
use crate::analysis::wilson;
use crate::config::quarantine::{bound_after_clean_runs, clean_runs_needed};
use crate::framework::Framework;

/// Failing runs in a row (since the last pass) after which a test that passed before counts
/// as broken rather than flaky: a test failing half its runs does this 3 % of the time, one
/// failing a tenth of them never in practice. A job that stops at its first failure
/// (`verify-fix`) leaves one or two, which does not make a flaky test broken.
pub const BROKEN_AFTER_RUNS: u64 = 5;

/// What history says of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Failed in some runs and passed in others, and failed in its last failing job.
    #[serde(rename = "flaky")]
    Flaky,
    /// Failed every run since its last pass (at least [`BROKEN_AFTER_RUNS`] of them), or
    /// never passed: a real failure, never quarantined.
    #[serde(rename = "broken")]
    Broken,
    /// No failure since its last failing job, but fewer clean runs than `fixed` needs.
    #[serde(rename = "fixed?")]
    FixedUnproven,
    /// Enough clean runs since the last failure to bound its rate below `fixed_below`.
    #[serde(rename = "fixed")]
    Fixed,
    /// Never failed in the window.
    #[serde(rename = "stable")]
    Stable,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Flaky => "flaky",
            Status::Broken => "broken",
            Status::FixedUnproven => "fixed?",
            Status::Fixed => "fixed",
            Status::Stable => "stable",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One job's figures for one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestJob {
    pub job: RunId,
    pub recorded_at: DateTime<Utc>,
    pub runs: u32,
    pub failures: u32,
    /// The commit the job tested, when known.
    pub commit: Option<String>,
}

/// A test and the jobs that ran it, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TestHistory {
    pub repo: String,
    pub name: String,
    /// The job's command standing in for a runner without per-test reports.
    pub whole_command: bool,
    /// The framework of its newest job.
    pub framework: Framework,
    pub jobs: Vec<TestJob>,
}

/// A test's status and the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    pub status: Status,
    pub runs: u64,
    pub failures: u64,
    /// Pooled failure rate over the jobs read, and its 95 % Wilson interval.
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Runs of the jobs after the last one with a failure (all runs when none failed).
    pub clean_runs: u64,
    /// Clean runs `fixed` needs.
    pub needed: u32,
    /// The rate the clean runs bound from above at 95 % (1 with none).
    pub bound: f64,
    /// The rate `fixed` must bound (`fixed_below`).
    pub fixed_below: f64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_job: Option<RunId>,
    /// The newest job in which it failed.
    pub last_failing_job: Option<RunId>,
}

impl Standing {
    /// The status's strength in words: "≤ 1 % after 299 clean runs" for `fixed`, the bound
    /// so far and what is still needed for `fixed?`, the rate for the others.
    pub fn strength(&self) -> String {
        match self.status {
            Status::Fixed => format!(
                "≤ {} after {} clean runs",
                percent(self.fixed_below),
                self.clean_runs
            ),
            Status::FixedUnproven => format!(
                "≤ {} after {} clean runs; {} more for ≤ {}",
                percent(self.bound),
                self.clean_runs,
                u64::from(self.needed).saturating_sub(self.clean_runs),
                percent(self.fixed_below)
            ),
            Status::Stable => format!(
                "no failure in {} runs (≤ {})",
                self.runs,
                percent(self.bound)
            ),
            Status::Flaky | Status::Broken => format!(
                "{} of {} runs failed ({}, 95 % CI {} – {})",
                self.failures,
                self.runs,
                percent(self.rate),
                percent(self.ci_low),
                percent(self.ci_high)
            ),
        }
    }
}

/// A rate as "1 %", "13.9 %" or "0.5 %": one decimal, none when it is zero.
pub fn percent(rate: f64) -> String {
    let shown = format!("{:.1}", rate * 100.0);
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} %")
}

/// The status of a test from its jobs (oldest first), with `fixed_below` the rate `fixed`
/// must bound. Per job, not per run: the runs of one job are not ordered in history, so
/// the runs of the job with the last failure never count as clean.
pub fn standing(jobs: &[TestJob], fixed_below: f64) -> Standing {
    let runs: u64 = jobs.iter().map(|j| u64::from(j.runs)).sum();
    let failures: u64 = jobs.iter().map(|j| u64::from(j.failures)).sum();
    let last_failing = jobs.iter().rposition(|j| j.failures > 0);
    let clean_runs: u64 = jobs[last_failing.map_or(0, |i| i + 1)..]
        .iter()
        .map(|j| u64::from(j.runs))
        .sum();
    let last_pass = jobs.iter().rposition(|j| j.failures < j.runs);
    let failing_since_pass: u64 = jobs[last_pass.map_or(0, |i| i + 1)..]
        .iter()
        .map(|j| u64::from(j.failures))
        .sum();
    let needed = clean_runs_needed(fixed_below);
    let status = if failures == 0 {
        Status::Stable
    } else if clean_runs == 0 && (last_pass.is_none() || failing_since_pass >= BROKEN_AFTER_RUNS) {
        Status::Broken
    } else if clean_runs >= u64::from(needed) {
        Status::Fixed
    } else if clean_runs > 0 {
        Status::FixedUnproven
    } else {
        Status::Flaky
    };
    let interval = wilson(
        failures.min(u64::from(u32::MAX)) as u32,
        runs.min(u64::from(u32::MAX)) as u32,
    );
    Standing {
        status,
        runs,
        failures,
        rate: if runs == 0 {
            0.0
        } else {
            round3(failures as f64 / runs as f64)
        },
        ci_low: round3(interval.low),
        ci_high: round3(interval.high),
        clean_runs,
        needed,
        bound: bound_after_clean_runs(clean_runs),
        fixed_below,
        first_seen: jobs.first().map(|j| j.recorded_at),
        last_job: jobs.last().map(|j| j.job),
        last_failing_job: last_failing.map(|i| jobs[i].job),
    }
}

impl Store {
    /// Every test with a result recorded at or after `since` (of `repo` when given), with
    /// those jobs, oldest first; tests sorted by repository and name. One statement over the
    /// results' covering index and the jobs they belong to.
    pub fn test_histories(
        &self,
        repo: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Vec<TestHistory>, HistoryError> {
        let mut params: Vec<Value> = values![since.timestamp()].to_vec();
        let mut sql = String::from(
            "SELECT c.repo, c.name, c.whole_command, j.framework, r.job_id, r.recorded_at, \
             r.runs, r.failures, j.checked_out_commit \
             FROM test_results r JOIN test_cases c ON c.id = r.test_case_id \
             JOIN jobs j ON j.id = r.job_id WHERE r.recorded_at >= ?",
        );
        if let Some(repo) = repo {
            sql.push_str(" AND c.repo = ?");
            params.push(Value::Text(repo.to_string()));
        }
        sql.push_str(" ORDER BY c.repo, c.name, r.recorded_at, r.job_id");
        self.read(|db| {
            let mut tests: Vec<TestHistory> = Vec::new();
            for row in db.rows(&sql, &params)? {
                let repo: String = row.get(0)?;
                let name: String = row.get(1)?;
                let job = TestJob {
                    job: row.get(4)?,
                    recorded_at: timestamp(row.get(5)?),
                    runs: row.get(6)?,
                    failures: row.get(7)?,
                    commit: row.get(8)?,
                };
                let framework: Framework = row.get(3)?;
                match tests.last_mut() {
                    Some(last) if last.repo == repo && last.name == name => {
                        last.framework = framework;
                        last.jobs.push(job);
                    }
                    _ => tests.push(TestHistory {
                        repo,
                        name,
                        whole_command: row.get(2)?,
                        framework,
                        jobs: vec![job],
                    }),
                }
            }
            Ok(tests)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(list: &[(u32, u32)]) -> Vec<TestJob> {
        list.iter()
            .enumerate()
            .map(|(i, &(runs, failures))| TestJob {
                job: RunId(i as i64 + 1),
                recorded_at: timestamp(1_700_000_000 + i as i64 * 60),
                runs,
                failures,
                commit: None,
            })
            .collect()
    }

    #[test]
    fn never_failing_is_stable_and_its_bound_is_stated() {
        let s = standing(&jobs(&[(10, 0), (10, 0)]), 0.01);
        assert_eq!(s.status, Status::Stable);
        assert_eq!(s.clean_runs, 20);
        assert_eq!(s.strength(), "no failure in 20 runs (≤ 13.9 %)");
    }

    #[test]
    fn failing_in_some_runs_and_passing_in_others_is_flaky() {
        let s = standing(&jobs(&[(10, 0), (10, 3)]), 0.01);
        assert_eq!(s.status, Status::Flaky);
        assert_eq!((s.runs, s.failures, s.rate), (20, 3, 0.15));
        assert_eq!(s.last_failing_job, Some(RunId(2)));
        // One failing run after passes (a verify-fix that stopped at once) stays flaky.
        let s = standing(&jobs(&[(10, 3), (1, 1)]), 0.01);
        assert_eq!(s.status, Status::Flaky);
    }

    #[test]
    fn failing_every_recent_run_is_broken_never_flaky() {
        assert_eq!(standing(&jobs(&[(10, 10)]), 0.01).status, Status::Broken);
        assert_eq!(standing(&jobs(&[(1, 1)]), 0.01).status, Status::Broken);
        let s = standing(&jobs(&[(10, 2), (5, 5)]), 0.01);
        assert_eq!(s.status, Status::Broken);
        let s = standing(&jobs(&[(10, 2), (4, 4)]), 0.01);
        assert_eq!(
            s.status,
            Status::Flaky,
            "four failures in a row: still flaky"
        );
    }

    #[test]
    fn fixed_is_earned_by_the_stated_number_of_clean_runs() {
        let s = standing(&jobs(&[(10, 4), (298, 0)]), 0.01);
        assert_eq!(s.status, Status::FixedUnproven);
        assert_eq!(s.strength(), "≤ 1 % after 298 clean runs; 1 more for ≤ 1 %");
        let s = standing(&jobs(&[(10, 4), (200, 0), (99, 0)]), 0.01);
        assert_eq!(s.status, Status::Fixed);
        assert_eq!(s.strength(), "≤ 1 % after 299 clean runs");
        let s = standing(&jobs(&[(10, 4), (14, 0)]), 0.2);
        assert_eq!(s.status, Status::Fixed);
        let s = standing(&jobs(&[(10, 4), (13, 0)]), 0.2);
        assert_eq!(s.status, Status::FixedUnproven);
        // A new failure after the clean runs makes it flaky again.
        let s = standing(&jobs(&[(10, 4), (299, 0), (10, 1)]), 0.01);
        assert_eq!(s.status, Status::Flaky);
    }

    #[test]
    fn rates_show_as_percentages() {
        assert_eq!(percent(0.01), "1 %");
        assert_eq!(percent(0.139), "13.9 %");
        assert_eq!(percent(0.0), "0 %");
    }
}

//! [`JobFilter`]: which jobs a history view covers (repository, severity, dates, a test
//! name), turned into one SQL condition on `jobs j` with its parameters.

use chrono::{DateTime, Days, NaiveDate, Utc};
use rusqlite::types::Value;
use serde::Serialize;

use crate::analysis::Severity;

/// A selection of jobs. Empty fields select everything; dates are whole UTC days, both ends
/// included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobFilter {
    /// Exact repository, as recorded (credentials were already removed).
    pub repo: Option<String>,
    pub severity: Option<Severity>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Jobs that ran a test whose name contains this text (case-sensitive).
    pub test: Option<String>,
}

/// A condition and its positional parameters, to be joined with `AND`.
#[derive(Debug, Default)]
pub(super) struct Condition {
    pub sql: Vec<String>,
    pub params: Vec<Value>,
}

impl Condition {
    pub fn push(&mut self, sql: impl Into<String>, params: impl IntoIterator<Item = Value>) {
        self.sql.push(sql.into());
        self.params.extend(params);
    }

    /// `WHERE a AND b`, or nothing.
    pub fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }
}

/// Unix seconds at the start of `day` (UTC).
pub(super) fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists on every day")
        .and_utc()
        .timestamp()
}

/// The UTC day a timestamp falls on.
pub(super) fn day_of(timestamp: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(timestamp.div_euclid(86_400) * 86_400, 0)
        .unwrap_or_default()
        .date_naive()
}

impl JobFilter {
    pub fn is_empty(&self) -> bool {
        self == &JobFilter::default()
    }

    /// The condition on `jobs j`.
    pub(super) fn condition(&self) -> Condition {
        let mut c = Condition::default();
        if let Some(repo) = &self.repo {
            c.push("j.repo = ?", [Value::Text(repo.clone())]);
        }
        if let Some(severity) = self.severity {
            c.push("j.severity = ?", [Value::Text(severity.name().to_string())]);
        }
        self.push_dates(&mut c, "j.recorded_at");
        if let Some(test) = &self.test {
            c.push(
                "j.id IN (SELECT tr.job_id FROM test_results tr \
                 JOIN test_cases tc ON tc.id = tr.test_case_id WHERE instr(tc.name, ?) > 0)",
                [Value::Text(test.clone())],
            );
        }
        c
    }

    /// The condition on `test_results r`, without touching `jobs` unless the severity is
    /// filtered: results carry their job's time and their test case its repository, so the
    /// per-test views read one covering index.
    pub(super) fn result_condition(&self) -> Condition {
        let mut c = Condition::default();
        if let Some(repo) = &self.repo {
            c.push(
                "r.test_case_id IN (SELECT id FROM test_cases WHERE repo = ?)",
                [Value::Text(repo.clone())],
            );
        }
        if let Some(test) = &self.test {
            c.push(
                "r.test_case_id IN (SELECT id FROM test_cases WHERE instr(name, ?) > 0)",
                [Value::Text(test.clone())],
            );
        }
        if let Some(severity) = self.severity {
            c.push(
                "r.job_id IN (SELECT id FROM jobs WHERE severity = ?)",
                [Value::Text(severity.name().to_string())],
            );
        }
        self.push_dates(&mut c, "r.recorded_at");
        c
    }

    /// The condition on `test_case_totals t JOIN test_cases c`, when the filter selects by
    /// repository and test name only; `None` when it needs the results themselves (dates,
    /// severity), since the totals are all-time.
    pub(super) fn totals_condition(&self) -> Option<Condition> {
        if self.severity.is_some() || self.from.is_some() || self.to.is_some() {
            return None;
        }
        let mut c = Condition::default();
        if let Some(repo) = &self.repo {
            c.push("c.repo = ?", [Value::Text(repo.clone())]);
        }
        if let Some(test) = &self.test {
            c.push("instr(c.name, ?) > 0", [Value::Text(test.clone())]);
        }
        Some(c)
    }

    fn push_dates(&self, c: &mut Condition, column: &str) {
        if let Some(from) = self.from {
            c.push(format!("{column} >= ?"), [Value::Integer(day_start(from))]);
        }
        if let Some(to) = self.to {
            let end = to.checked_add_days(Days::new(1)).unwrap_or(to);
            c.push(format!("{column} < ?"), [Value::Integer(day_start(end))]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_map_to_their_utc_midnight_and_back() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).expect("a real date");
        let start = day_start(day);
        assert_eq!(start % 86_400, 0);
        assert_eq!(day_of(start), day);
        assert_eq!(day_of(start + 86_399), day);
        assert_eq!(
            day_of(start - 1),
            NaiveDate::from_ymd_opt(2026, 2, 28).expect("real")
        );
    }

    #[test]
    fn an_empty_filter_has_no_where_clause() {
        assert_eq!(JobFilter::default().condition().where_clause(), "");
        assert_eq!(JobFilter::default().result_condition().where_clause(), "");
        let filter = JobFilter {
            repo: Some("r".into()),
            severity: Some(Severity::High),
            ..JobFilter::default()
        };
        let c = filter.condition();
        assert_eq!(c.where_clause(), "WHERE j.repo = ? AND j.severity = ?");
        assert_eq!(c.params.len(), 2);
    }
}

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

    /// The condition on `jobs j`; with `test_alias`, the test-name part is put on that
    /// `test_cases` alias (for queries that already join it) instead of a subquery.
    pub(super) fn condition(&self, test_alias: Option<&str>) -> Condition {
        let mut c = Condition::default();
        if let Some(repo) = &self.repo {
            c.push("j.repo = ?", [Value::Text(repo.clone())]);
        }
        if let Some(severity) = self.severity {
            c.push("j.severity = ?", [Value::Text(severity.name().to_string())]);
        }
        if let Some(from) = self.from {
            c.push("j.recorded_at >= ?", [Value::Integer(day_start(from))]);
        }
        if let Some(to) = self.to {
            let end = to.checked_add_days(Days::new(1)).unwrap_or(to);
            c.push("j.recorded_at < ?", [Value::Integer(day_start(end))]);
        }
        if let Some(test) = &self.test {
            match test_alias {
                Some(alias) => c.push(
                    format!("instr({alias}.name, ?) > 0"),
                    [Value::Text(test.clone())],
                ),
                None => c.push(
                    "j.id IN (SELECT tr.job_id FROM test_results tr \
                     JOIN test_cases tc ON tc.id = tr.test_case_id WHERE instr(tc.name, ?) > 0)",
                    [Value::Text(test.clone())],
                ),
            }
        }
        c
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
        assert_eq!(JobFilter::default().condition(None).where_clause(), "");
        let filter = JobFilter {
            repo: Some("r".into()),
            severity: Some(Severity::High),
            ..JobFilter::default()
        };
        let c = filter.condition(None);
        assert_eq!(c.where_clause(), "WHERE j.repo = ? AND j.severity = ?");
        assert_eq!(c.params.len(), 2);
    }
}

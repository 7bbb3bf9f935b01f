//! How domain values sit in SQLite columns: the row-id newtypes ([`RunId`], [`TestCaseId`]),
//! seeds ([`StoredSeed`]) and the enums stored by their names, each with `ToSql`/`FromSql` so
//! no query converts by hand; and times, stored as Unix seconds (`timestamp`).

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::analysis::{Severity, Verdict};
use crate::framework::Framework;
use crate::summary::Classification;

/// A time as stored (Unix seconds); one out of range reads as the epoch.
pub(crate) fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// One detector job in history: the `jobs` row id, reported as `run_id` in a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

/// A test case of a repository: the `test_cases` row id, stable across jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TestCaseId(pub i64);

macro_rules! row_id {
    ($name:ident) => {
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(RunId);
row_id!(TestCaseId);

/// A seed as stored: seeds are `u64` and SQLite integers are `i64`, so the same 64 bits are
/// kept (seeds above `i64::MAX` read as negative in a raw SQL shell, and come back intact
/// here). Nothing sorts or compares seeds in SQL, so the order does not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSeed(pub u64);

impl ToSql for StoredSeed {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(i64::from_ne_bytes(self.0.to_ne_bytes())))
    }
}

impl FromSql for StoredSeed {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(|n| StoredSeed(u64::from_ne_bytes(n.to_ne_bytes())))
    }
}

/// Enums are stored by their serde names (`"medium"`, `"always-failing"`), the same words
/// the summary JSON uses, so a raw SQL query reads like the API.
fn name_of<T: Serialize>(value: &T) -> rusqlite::Result<ToSqlOutput<'static>> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(ToSqlOutput::from(name)),
        Ok(other) => Err(rusqlite::Error::ToSqlConversionFailure(
            format!("expected a name, got {other}").into(),
        )),
        Err(e) => Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))),
    }
}

fn from_name<T: DeserializeOwned>(value: ValueRef<'_>) -> FromSqlResult<T> {
    let name = value.as_str()?;
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

macro_rules! named_enum {
    ($name:ty) => {
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                name_of(self)
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                from_name(value)
            }
        }
    };
}

named_enum!(Severity);
named_enum!(Verdict);
named_enum!(Framework);
named_enum!(Classification);

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn round_trip<T: ToSql + FromSql>(value: T) -> T {
        let conn = Connection::open_in_memory().expect("an in-memory database opens");
        conn.query_row("SELECT ?1", [&value], |row| row.get(0))
            .expect("a value reads back")
    }

    #[test]
    fn seeds_above_i64_max_come_back_intact() {
        for seed in [0, 42, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(round_trip(StoredSeed(seed)), StoredSeed(seed));
        }
    }

    #[test]
    fn enums_are_stored_by_their_summary_names() {
        let conn = Connection::open_in_memory().expect("an in-memory database opens");
        let name: String = conn
            .query_row("SELECT ?1", [&Verdict::AlwaysFailing], |row| row.get(0))
            .expect("a name reads back");
        assert_eq!(name, "always-failing");
        assert_eq!(round_trip(Severity::Critical), Severity::Critical);
        assert_eq!(
            round_trip(Classification::ContentionDependent),
            Classification::ContentionDependent
        );
        assert_eq!(
            round_trip(Framework::TypescriptJest),
            Framework::TypescriptJest
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_default() {
        let conn = Connection::open_in_memory().expect("an in-memory database opens");
        let result: rusqlite::Result<Severity> =
            conn.query_row("SELECT 'catastrophic'", [], |row| row.get(0));
        assert!(result.is_err());
    }
}

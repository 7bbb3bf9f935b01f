//! The one seam between history's queries and its engines: a statement runs through [`Exec`]
//! with positional [`Value`] parameters and gives back [`Record`]s, whichever engine holds
//! the data. Statements are written once, in the SQL both SQLite and PostgreSQL accept, with
//! SQLite's `?`/`?N` placeholders; [`postgres_placeholders`] renames them `$N` for
//! PostgreSQL. Values are SQLite's five types, the common ground of both engines (PostgreSQL
//! columns are BIGINT, DOUBLE PRECISION and TEXT only), so the `FromSql` impls of
//! [`super::columns`] decode rows from either.

use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, ValueRef};

pub use rusqlite::types::Value;

/// Why a statement failed, by engine.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no PostgreSQL connection: {0}")]
    Pool(String),
    #[error("column {index} has an unexpected value")]
    Column {
        index: usize,
        #[source]
        source: FromSqlError,
    },
    #[error("column {index} has PostgreSQL type {type_name}, which history does not read")]
    ColumnType { index: usize, type_name: String },
}

/// The server's own message when it sent one ("relation … does not exist"), which the
/// client's `Display` leaves out; else the client's message with its causes, which say
/// why a TLS handshake failed ("invalid peer certificate: UnknownIssuer").
pub(super) fn postgres_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut cause = std::error::Error::source(error);
            while let Some(inner) = cause {
                let said = inner.to_string();
                if !text.ends_with(&said) {
                    text.push_str(": ");
                    text.push_str(&said);
                }
                cause = inner.source();
            }
            text
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Record(pub Vec<Value>);

impl Record {
    /// Column `index` as `T`; a missing column reads as NULL.
    pub fn get<T: FromSql>(&self, index: usize) -> Result<T, DbError> {
        let value = self.0.get(index).unwrap_or(&Value::Null);
        T::column_result(ValueRef::from(value)).map_err(|source| DbError::Column { index, source })
    }
}

/// Runs statements: a connection, or a transaction on one.
pub trait Exec {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, DbError>;

    /// The one row a statement gives back, if any.
    fn row(&mut self, sql: &str, params: &[Value]) -> Result<Option<Record>, DbError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
}

/// A parameter from anything `rusqlite` can bind.
pub fn value(x: impl ToSql) -> Value {
    match x.to_sql() {
        Ok(ToSqlOutput::Borrowed(v)) => v.into(),
        Ok(ToSqlOutput::Owned(v)) => v,
        // Every ToSql impl history binds gives a plain value; an error here is a bug that
        // the statement then reports as a NULL in a NOT NULL column.
        _ => Value::Null,
    }
}

/// `[value(a), value(b), …]`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_values {
    ($($x:expr),* $(,)?) => { [$($crate::history::sql::value($x)),*] };
}
pub use sql_values as values;

/// SQLite's placeholders renamed for PostgreSQL: `?N` becomes `$N`, and a bare `?` the
/// number after the largest so far, as SQLite numbers it. Text in single quotes is left
/// alone.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut largest = 0u32;
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                let number = digits.parse().unwrap_or(largest + 1);
                largest = largest.max(number);
                out.push_str(&format!("${number}"));
            }
            _ => out.push(c),
        }
    }
    out
}

/// SQLite: statements are cached per connection.
impl Exec for rusqlite::Connection {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, DbError> {
        sqlite_rows(self, sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        sqlite_execute(self, sql, params)
    }
}

impl Exec for rusqlite::Transaction<'_> {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Record>, DbError> {
        sqlite_rows(self, sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        sqlite_execute(self, sql, params)
    }
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Record>, DbError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let width = stmt.column_count();
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
        (0..width)
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map(Record)
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<u64, DbError> {
    Ok(conn
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            postgres_placeholders("SELECT ?1, ?2 WHERE a = ? AND b = ? AND c = '?'"),
            "SELECT $1, $2 WHERE a = $3 AND b = $4 AND c = '?'"
        );
        assert_eq!(
            postgres_placeholders("x = ?12 OR y = ?"),
            "x = $12 OR y = $13"
        );
    }

    #[test]
    fn a_record_decodes_like_a_row() {
        let record = Record(vec![
            Value::Integer(3),
            Value::Null,
            Value::Text("low".into()),
        ]);
        assert_eq!(record.get::<i64>(0).expect("an integer"), 3);
        assert_eq!(record.get::<Option<String>>(1).expect("a null"), None);
        assert_eq!(
            record
                .get::<crate::analysis::Severity>(2)
                .expect("a severity"),
            crate::analysis::Severity::Low
        );
        assert!(record.get::<i64>(2).is_err());
    }
}

//! [`HistoryError`]: why history could not be opened, written or read, whichever engine
//! holds it. Kept apart from `store.rs` so that the engines (the SQLite file, the shared
//! folder, PostgreSQL) report errors without naming the `Store` built on top of them.

use std::path::PathBuf;

use super::migrations::MigrateError;
use super::sql::DbError;

/// Why history could not be opened, written or read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open history database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("history database {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot list the history folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot migrate history database {path}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: MigrateError,
    },
    #[error("cannot record the job in history database {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("cannot read history database {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("{path} is not a history database: {reason}")]
    NotHistory { path: PathBuf, reason: &'static str },
    #[error("cannot encode the summary for history")]
    Encode(#[source] serde_json::Error),
    #[error("stored summary of job {id} in history database {path} is unreadable")]
    Decode {
        path: PathBuf,
        id: i64,
        #[source]
        source: serde_json::Error,
    },
}

impl HistoryError {
    /// True when the database answered and refused this job (bad data, a broken
    /// constraint), so writing it again will fail again; false when the database could not
    /// be reached or was busy, and a later try may work.
    pub fn refuses_the_job(&self) -> bool {
        match self {
            HistoryError::Encode(_) => true,
            HistoryError::Write { source, .. } => match source {
                DbError::Postgres(error) => error.as_db_error().is_some_and(|db| {
                    // Connection (08), resources (53), operator intervention (57), system
                    // (58) and transaction rollback (40: serialization, deadlock) pass.
                    let class = db.code().code().get(..2).unwrap_or("");
                    !matches!(class, "08" | "40" | "53" | "57" | "58" | "XX")
                }),
                DbError::Sqlite(rusqlite::Error::SqliteFailure(error, _)) => matches!(
                    error.code,
                    rusqlite::ErrorCode::ConstraintViolation | rusqlite::ErrorCode::TooBig
                ),
                _ => false,
            },
            _ => false,
        }
    }
}

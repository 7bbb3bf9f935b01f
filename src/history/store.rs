//! [`Store`]: the one owner of the history database's connections. Opening sets WAL,
//! `synchronous=NORMAL`, a busy timeout and foreign keys, then migrates; every method is
//! blocking, so async callers go through `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use super::migrations::{self, MigrateError, Migrated};

/// The database file's name, the seed project's.
pub const DB_FILE_NAME: &str = "flaky_test_history.db";

/// How long a statement waits for another process's write lock before giving up. A worker
/// records a job in milliseconds, so this only runs out when something is stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where history lives when neither `--db` nor `FLAKY_DB` says: the RunPod network volume
/// when it is mounted (it outlives workers), else the current directory.
pub fn default_db_path() -> PathBuf {
    let volume = Path::new("/runpod-volume");
    if volume.is_dir() {
        volume.join(DB_FILE_NAME)
    } else {
        PathBuf::from(DB_FILE_NAME)
    }
}

/// Why history could not be opened, written or read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open history database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("history database {path} does not exist")]
    Missing { path: PathBuf },
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
        source: rusqlite::Error,
    },
    #[error("cannot read history database {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
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

/// The history database. Writes go through one connection and reads through another, each
/// behind a mutex: under WAL a reader sees the last committed job while a write is under
/// way, so a dashboard page never waits for a 1,000-run job to be recorded.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    migrated: Migrated,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        let open_error = |source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = Connection::open(path).map_err(open_error)?;
        configure(&writer).map_err(open_error)?;
        let migrated =
            migrations::migrate(&mut writer).map_err(|source| HistoryError::Migrate {
                path: path.to_path_buf(),
                source,
            })?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        configure(&reader).map_err(open_error)?;
        // The pages' aggregates revisit the same job and index pages on every request; keep
        // them in the connection's cache (16 MiB) instead of the default 2 MiB.
        reader
            .pragma_update(None, "cache_size", -16_384)
            .map_err(open_error)?;
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            migrated,
        })
    }

    /// Opens an existing database; for commands that only read, where creating an empty
    /// file at a mistyped path would hide the mistake.
    pub fn open_existing(path: &Path) -> Result<Store, HistoryError> {
        if !path.exists() {
            return Err(HistoryError::Missing {
                path: path.to_path_buf(),
            });
        }
        Store::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema versions found and reached when this store was opened.
    pub fn migrated(&self) -> Migrated {
        self.migrated
    }

    /// The write connection. A panic while it was held poisons the mutex; the connection
    /// itself is still sound (an unfinished transaction was rolled back when dropped).
    pub(super) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn read_error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Read {
            path: self.path.clone(),
            source,
        }
    }

    pub(super) fn write_error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Retention: deletes the jobs recorded before `cutoff` with their runs and results,
    /// recomputes the per-test totals from the results left, then deletes the test cases
    /// no job mentions any more. Returns how many jobs went.
    pub fn delete_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.write_error(e))?;
        let deleted = tx
            .execute(
                "DELETE FROM jobs WHERE recorded_at < ?1",
                [cutoff.timestamp()],
            )
            .and_then(|deleted| {
                if deleted > 0 {
                    tx.execute_batch(
                        "DELETE FROM test_case_totals;
                         INSERT INTO test_case_totals
                             (test_case_id, jobs, flaky_jobs, runs, failures, last_seen)
                         SELECT test_case_id, count(*), sum(verdict = 'flaky'), sum(runs),
                                sum(failures), max(recorded_at)
                         FROM test_results GROUP BY test_case_id;
                         DELETE FROM test_cases WHERE NOT EXISTS
                             (SELECT 1 FROM test_results r WHERE r.test_case_id = test_cases.id);",
                    )?;
                }
                Ok(deleted)
            })
            .map_err(|e| self.write_error(e))?;
        tx.commit().map_err(|e| self.write_error(e))?;
        Ok(deleted)
    }
}

/// The settings every connection needs: WAL so readers and a writer do not block each
/// other, `synchronous=NORMAL` (durable at checkpoints, safe against corruption, and no
/// fsync per job), a busy timeout for the moments two processes want the write lock, and
/// foreign keys so deleting a job deletes its runs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A read-only connection cannot change the journal mode; it follows the file's.
    if !conn.is_readonly(rusqlite::MAIN_DB)? {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "history database is not in WAL mode; readers may wait");
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

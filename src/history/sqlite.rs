//! [`SqliteStore`]: one SQLite history file and its two connections. Opening sets the
//! journal ([`Journal`]: WAL on a local disk, a rollback journal for files on a shared
//! volume), a busy timeout and foreign keys, then migrates. This is the engine under both a
//! `--db FILE` store and every file of a shared folder (the worker's own file, the merged
//! copy, each file read), so it names neither: the folder is built from these, and `Store`
//! from either.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::HistoryError;
use super::migrations::{self, Migrated};
use super::sql::{DbError, Exec};

/// How long a statement waits for another process's write lock before giving up. A worker
/// records a job in milliseconds, so this only runs out when something is stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a history file keeps its journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    /// WAL: readers and a writer do not block each other. Needs shared memory between the
    /// processes using the file, so only for a file on one host's local disk.
    Wal,
    /// The rollback journal with `synchronous=FULL`: a file that other hosts may open (a
    /// network volume) never depends on shared memory, only on file locks, and each file
    /// in a shared folder has a single writer anyway.
    Rollback,
}

/// A SQLite history file. Writes go through one connection and reads through another, each
/// behind a mutex: under WAL a reader sees the last committed job while a write is under
/// way, so a dashboard page never waits for a 1,000-run job to be recorded.
pub struct SqliteStore {
    /// What errors name: the file, or what the file stands for (the shared folder whose
    /// merged copy it is, the file a private copy was taken of).
    path: PathBuf,
    /// Declared (so dropped) before `writer`: the last connection to close checkpoints
    /// the WAL into the database and deletes it, which a read-only one cannot do. With
    /// the reader last, every process left its WAL behind (up to 4 MiB), and the next
    /// open read all of it back to rebuild the WAL index: tens of milliseconds at the
    /// start of every job.
    reader: Mutex<Connection>,
    writer: Mutex<Connection>,
    migrated: Migrated,
    /// The private copy this store reads instead of `path`, when it is one (see
    /// [`super::read_only`]); declared after the connections, so removed after they close.
    snapshot: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path` with `journal`.
    pub fn open_with(path: &Path, journal: Journal) -> Result<SqliteStore, HistoryError> {
        let open_error = |source: rusqlite::Error| HistoryError::Open {
            path: path.to_path_buf(),
            source: source.into(),
        };
        let mut writer = Connection::open(path).map_err(open_error)?;
        // Recording a job uses a dozen statements (the runs' multi-row INSERTs among them);
        // the default cache of 16 would evict some of them between jobs.
        writer.set_prepared_statement_cache_capacity(64);
        configure(&writer, journal).map_err(open_error)?;
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
        configure(&reader, journal).map_err(open_error)?;
        // The pages' aggregates revisit the same job and index pages on every request; keep
        // them in the connection's cache (16 MiB) instead of the default 2 MiB.
        reader
            .pragma_update(None, "cache_size", -16_384)
            .map_err(open_error)?;
        Ok(SqliteStore::from_connections(
            path, writer, reader, migrated, None,
        ))
    }

    /// A store over connections opened elsewhere ([`super::read_only`]), shown as `path`.
    pub(super) fn from_connections(
        path: &Path,
        writer: Connection,
        reader: Connection,
        migrated: Migrated,
        snapshot: Option<tempfile::TempDir>,
    ) -> SqliteStore {
        SqliteStore {
            path: path.to_path_buf(),
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            migrated,
            snapshot,
        }
    }

    /// This store with its errors naming `path` instead of its file: a shared folder's
    /// merged copy is a temporary file, and the folder is what the user gave.
    pub(super) fn shown_as(mut self, path: &Path) -> SqliteStore {
        self.path = path.to_path_buf();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when this store reads a private copy of its file rather than the file.
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The schema versions found and reached when this store was opened.
    pub fn migrated(&self) -> Migrated {
        self.migrated
    }

    /// Runs `f` in one write transaction, IMMEDIATE so the busy timeout applies at BEGIN
    /// rather than on a read-to-write upgrade halfway; committed when it returns `Ok` and
    /// rolled back otherwise.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        // A panic while the lock was held poisons it; the connection itself is still
        // sound (an unfinished transaction was rolled back when dropped).
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(DbError::from)
            .and_then(|mut tx| {
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            })
            .map_err(|source| HistoryError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Runs `f` in one read transaction, so what it reads comes from one snapshot.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        conn.unchecked_transaction()
            .map_err(DbError::from)
            .and_then(|mut tx| f(&mut tx))
            .map_err(|source| HistoryError::Read {
                path: self.path.clone(),
                source,
            })
    }
}

/// The settings every connection needs: the journal (WAL so readers and a writer do not
/// block each other, `synchronous=NORMAL`: durable at checkpoints, safe against corruption,
/// no fsync per job; or the rollback journal with `synchronous=FULL` for a shared volume),
/// a busy timeout for the moments two processes want the write lock, and foreign keys so
/// deleting a job deletes its runs.
pub(super) fn configure(conn: &Connection, journal: Journal) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let (wanted, synchronous) = match journal {
        Journal::Wal => ("WAL", "NORMAL"),
        Journal::Rollback => ("DELETE", "FULL"),
    };
    // A read-only connection cannot change the journal mode; it follows the file's.
    if !conn.is_readonly(rusqlite::MAIN_DB)? {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", wanted, |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case(wanted) {
            tracing::warn!(%mode, wanted, "history database kept another journal mode");
        }
    }
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

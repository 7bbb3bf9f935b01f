//! [`Store`]: the one owner of the history database's connections. Opening sets the journal
//! ([`Journal`]: WAL on a local disk, a rollback journal for files on a shared volume), a busy
//! timeout and foreign keys, then migrates; every method is blocking, so async callers go
//! through `spawn_blocking`. A store over a shared folder ([`Store::open_folder`]) writes one
//! file per worker and reads them all through a merged copy (see [`super::folder`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use super::folder::Folder;
use super::migrations::{self, MigrateError, Migrated};
use super::pending::PendingDir;
use super::postgres::PgStore;
use super::sql::{DbError, Exec, values};

/// The database file's name, the seed project's.
pub const DB_FILE_NAME: &str = "flaky_test_history.db";

/// How long a statement waits for another process's write lock before giving up. A worker
/// records a job in milliseconds, so this only runs out when something is stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The folder of per-worker history files on the RunPod network volume.
pub const VOLUME_HISTORY_DIR: &str = "/runpod-volume/flaky-detector/history";

/// Where history lives when neither `--db` nor `FLAKY_DB` says: on the RunPod network volume
/// when it is mounted (it outlives workers), a folder with one file per worker, since many
/// pods share that volume and SQLite's WAL cannot be shared across hosts; else a file in
/// the current directory.
pub fn default_db_path() -> PathBuf {
    if Path::new("/runpod-volume").is_dir() {
        PathBuf::from(VOLUME_HISTORY_DIR)
    } else {
        PathBuf::from(DB_FILE_NAME)
    }
}

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

/// The history database. Writes go through one connection and reads through another, each
/// behind a mutex: under WAL a reader sees the last committed job while a write is under
/// way, so a dashboard page never waits for a 1,000-run job to be recorded.
///
/// Or, for a fleet, a PostgreSQL database ([`Store::connect`]): the same statements run
/// through a connection pool.
pub struct Store {
    /// The file, the shared folder, or the PostgreSQL URL without its password.
    path: PathBuf,
    engine: Engine,
    migrated: Migrated,
    /// Where jobs whose write failed wait for the next try (see [`super::pending`]).
    pub(super) pending: Option<PendingDir>,
    /// The private copy this store reads instead of `path`, when it is one (see
    /// [`super::read_only`]); removed with the store.
    snapshot: Option<tempfile::TempDir>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "a process holds one or two stores"
)]
enum Engine {
    Sqlite {
        /// Declared (so dropped) before `writer`: the last connection to close checkpoints
        /// the WAL into the database and deletes it, which a read-only one cannot do. With
        /// the reader last, every process left its WAL behind (up to 4 MiB), and the next
        /// open read all of it back to rebuild the WAL index: tens of milliseconds at the
        /// start of every job.
        reader: Mutex<Connection>,
        writer: Mutex<Connection>,
        /// Set for a store over a shared folder: `writer`/`reader` are then the merged
        /// copy, and jobs are written to this worker's own file.
        folder: Option<Box<Folder>>,
    },
    Postgres(Box<PgStore>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        Store::open_with(path, Journal::Wal)
    }

    /// Opens (creating if needed) and migrates the database at `path` with `journal`.
    pub fn open_with(path: &Path, journal: Journal) -> Result<Store, HistoryError> {
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
        Ok(Store {
            path: path.to_path_buf(),
            engine: Engine::Sqlite {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                folder: None,
            },
            migrated,
            pending: None,
            snapshot: None,
        })
    }

    /// A store over connections opened elsewhere ([`super::read_only`]), shown as `path`.
    pub(super) fn from_connections(
        path: &Path,
        writer: Connection,
        reader: Connection,
        migrated: Migrated,
        snapshot: Option<tempfile::TempDir>,
    ) -> Store {
        Store {
            path: path.to_path_buf(),
            engine: Engine::Sqlite {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                folder: None,
            },
            migrated,
            pending: None,
            snapshot,
        }
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://` or `postgresql://`) and
    /// migrates it.
    pub fn connect(url: &str) -> Result<Store, HistoryError> {
        let (pg, migrated) = PgStore::connect(url)?;
        Ok(Store {
            path: PathBuf::from(pg.display_url()),
            engine: Engine::Postgres(Box::new(pg)),
            migrated,
            pending: None,
            snapshot: None,
        })
    }

    /// Opens history kept as one file per worker in `dir` (created if needed): jobs are
    /// written to `<dir>/<worker>.db` when `worker` is given, and every read covers all the
    /// folder's files, merged into a private copy that picks up new jobs on each read.
    pub fn open_folder(dir: &Path, worker: Option<&str>) -> Result<Store, HistoryError> {
        let folder = Folder::open(dir, worker)?;
        let mut store = Store::open_with(&folder.merged_path(), Journal::Wal)?;
        store.path = dir.to_path_buf();
        if let Engine::Sqlite { folder: slot, .. } = &mut store.engine {
            *slot = Some(Box::new(folder));
        }
        Ok(store)
    }

    /// The shared folder this store reads, if it is one.
    pub(super) fn folder(&self) -> Option<&Folder> {
        match &self.engine {
            Engine::Sqlite { folder, .. } => folder.as_deref(),
            Engine::Postgres(_) => None,
        }
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

    /// True when this store reads a private copy of its file rather than the file.
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Which database this is, as a pending job records it so that it is only ever written
    /// back here: for PostgreSQL a hash of user, hosts, ports and database name (no
    /// password, and the same whatever `sslmode` or other options the URL carries), for
    /// SQLite a hash of the file's or folder's absolute path. A hash, because the pending
    /// folder may be on a volume that jobs can read.
    pub fn identity(&self) -> String {
        use sha2::{Digest, Sha256};
        let named = match &self.engine {
            Engine::Postgres(_) => super::postgres::identity(&self.path.to_string_lossy()),
            Engine::Sqlite { .. } => {
                let path = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                format!("sqlite:{}", path.display())
            }
        };
        let digest = Sha256::digest(named.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// The schema versions found and reached when this store was opened.
    pub fn migrated(&self) -> Migrated {
        self.migrated
    }

    /// Runs `f` in one write transaction (SQLite: IMMEDIATE, so the busy timeout applies at
    /// BEGIN rather than on a read-to-write upgrade halfway), committed when it returns
    /// `Ok` and rolled back otherwise.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        let written = match &self.engine {
            Engine::Sqlite { writer, .. } => {
                // A panic while the lock was held poisons it; the connection itself is
                // still sound (an unfinished transaction was rolled back when dropped).
                let mut conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(DbError::from)
                    .and_then(|mut tx| {
                        let value = f(&mut tx)?;
                        tx.commit()?;
                        Ok(value)
                    })
            }
            Engine::Postgres(pg) => pg.write(f),
        };
        written.map_err(|source| HistoryError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Runs `f` in one read transaction, so what it reads comes from one snapshot; for a
    /// shared folder, first copies in the jobs other workers recorded since the last read.
    /// A file that cannot be read is logged and skipped, so one damaged worker file does
    /// not take the dashboard down.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        if let Some(folder) = self.folder()
            && let Err(error) = folder.merge_into(self)
        {
            tracing::warn!(error = %crate::errors::one_line(&error), "history folder not fully read");
        }
        self.read_here(f)
    }

    /// [`Store::read`] without the folder merge, for the merge itself.
    pub(super) fn read_here<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        let read = match &self.engine {
            Engine::Sqlite { reader, .. } => {
                let conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
                conn.unchecked_transaction()
                    .map_err(DbError::from)
                    .and_then(|mut tx| f(&mut tx))
            }
            Engine::Postgres(pg) => pg.read(f),
        };
        read.map_err(|source| self.read_error(source))
    }

    pub(super) fn read_error(&self, source: DbError) -> HistoryError {
        HistoryError::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// Retention: deletes the jobs recorded before `cutoff` with their runs and results,
    /// recomputes the per-test totals from the results left, then deletes the test cases
    /// no job mentions any more. Returns how many jobs went.
    pub fn delete_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        if let Some(folder) = self.folder() {
            // Each worker file loses its old jobs (they are the ones read back), and the
            // merged copy too, so it does not show them until the next start.
            let deleted = folder.delete_jobs_before(cutoff)?;
            self.delete_jobs_before_here(cutoff)?;
            return Ok(deleted);
        }
        self.delete_jobs_before_here(cutoff)
    }

    fn delete_jobs_before_here(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        self.write(|db| {
            let deleted = db.execute(
                "DELETE FROM jobs WHERE recorded_at < ?1",
                &values![cutoff.timestamp()],
            )?;
            if deleted > 0 {
                db.execute("DELETE FROM test_case_totals", &[])?;
                db.execute(
                    "INSERT INTO test_case_totals \
                         (test_case_id, jobs, flaky_jobs, runs, failures, last_seen) \
                     SELECT test_case_id, count(*), \
                         sum(CASE WHEN verdict = 'flaky' THEN 1 ELSE 0 END), sum(runs), \
                         sum(failures), max(recorded_at) \
                     FROM test_results GROUP BY test_case_id",
                    &[],
                )?;
                db.execute(
                    "DELETE FROM test_cases WHERE NOT EXISTS \
                     (SELECT 1 FROM test_results r WHERE r.test_case_id = test_cases.id)",
                    &[],
                )?;
            }
            Ok(deleted as usize)
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

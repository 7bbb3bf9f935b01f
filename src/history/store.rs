//! [`Store`]: history as the rest of the crate sees it, over one of three engines: a SQLite
//! file ([`SqliteStore`]), a shared folder of them ([`Folder`]) or PostgreSQL ([`PgStore`]),
//! plus the folder where jobs whose write failed wait (see [`super::pending`]). Every method is
//! blocking, so async callers go through `spawn_blocking`.
//!
//! The engines sit below this module and name none of it, so a store can hold any of them
//! without the imports going round in a loop; the reads and writes (`queries`, `detail`,
//! `status`, `record`) sit above it and go through `Store::read` and `Store::write`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::error::HistoryError;
use super::folder::Folder;
use super::jobs;
use super::migrations::Migrated;
use super::pending::PendingDir;
use super::postgres::PgStore;
use super::read_only::WalRead;
use super::sql::{DbError, Exec};
use super::sqlite::{Journal, SqliteStore};

/// The database file's name, the seed project's.
pub const DB_FILE_NAME: &str = "flaky_test_history.db";

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

/// The history database: a SQLite file, a shared folder of SQLite files, or, for a fleet, a
/// PostgreSQL database ([`Store::connect`]) through which the same statements run.
pub struct Store {
    /// The file, the shared folder, or the PostgreSQL URL without its password.
    path: PathBuf,
    engine: Engine,
    migrated: Migrated,
    /// Where jobs whose write failed wait for the next try (see [`super::pending`]).
    pending: Option<PendingDir>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "a process holds one or two stores"
)]
enum Engine {
    File(SqliteStore),
    /// The merged copy is read and written like a file; jobs are recorded in this
    /// worker's own file.
    Folder(Box<Folder>),
    Postgres(Box<PgStore>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    fn new(path: PathBuf, engine: Engine, migrated: Migrated) -> Store {
        Store {
            path,
            engine,
            migrated,
            pending: None,
        }
    }

    fn file(file: SqliteStore) -> Store {
        let (path, migrated) = (file.path().to_path_buf(), file.migrated());
        Store::new(path, Engine::File(file), migrated)
    }

    /// Opens (creating if needed) and migrates the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Store, HistoryError> {
        Store::open_with(path, Journal::Wal)
    }

    /// Opens (creating if needed) and migrates the database at `path` with `journal`.
    pub fn open_with(path: &Path, journal: Journal) -> Result<Store, HistoryError> {
        SqliteStore::open_with(path, journal).map(Store::file)
    }

    /// Opens the existing history file `path` for reading only: nothing of the file or its
    /// folder changes, whatever the file is (see [`super::read_only`]).
    pub fn open_read_only(path: &Path, wal: WalRead) -> Result<Store, HistoryError> {
        SqliteStore::open_read_only(path, wal).map(Store::file)
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://` or `postgresql://`) and
    /// migrates it.
    pub fn connect(url: &str) -> Result<Store, HistoryError> {
        let (pg, migrated) = PgStore::connect(url)?;
        Ok(Store::new(
            PathBuf::from(pg.display_url()),
            Engine::Postgres(Box::new(pg)),
            migrated,
        ))
    }

    /// Opens history kept as one file per worker in `dir` (created if needed): jobs are
    /// written to `<dir>/<worker>.db` when `worker` is given, and every read covers all the
    /// folder's files, merged into a private copy that picks up new jobs on each read.
    pub fn open_folder(dir: &Path, worker: Option<&str>) -> Result<Store, HistoryError> {
        let folder = Folder::open(dir, worker)?;
        let migrated = folder.merged().migrated();
        Ok(Store::new(
            dir.to_path_buf(),
            Engine::Folder(Box::new(folder)),
            migrated,
        ))
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
        match &self.engine {
            Engine::File(file) => file.is_snapshot(),
            Engine::Folder(_) | Engine::Postgres(_) => false,
        }
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
            Engine::File(_) | Engine::Folder(_) => {
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

    /// Keeps jobs whose write fails in `dir`, to be written later.
    pub fn keep_failed_writes_in(&mut self, dir: PathBuf) {
        self.pending = Some(PendingDir::new(dir));
    }

    /// Whether jobs whose write fails are kept for a later write.
    pub fn keeps_failed_writes(&self) -> bool {
        self.pending.is_some()
    }

    /// The folder where this store's failed writes wait, if it keeps them.
    pub(super) fn pending(&self) -> Option<&PendingDir> {
        self.pending.as_ref()
    }

    /// Runs `f` in one write transaction (SQLite: IMMEDIATE, so the busy timeout applies at
    /// BEGIN rather than on a read-to-write upgrade halfway), committed when it returns
    /// `Ok` and rolled back otherwise. For a shared folder this is the merged copy.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        match &self.engine {
            Engine::File(file) => file.write(f),
            Engine::Folder(folder) => folder.merged().write(f),
            Engine::Postgres(pg) => pg.write(f).map_err(|source| HistoryError::Write {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// [`Store::write`] into the database that records jobs: for a shared folder, this
    /// worker's own file (the merged copy when it has none).
    pub(super) fn write_job<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        match &self.engine {
            Engine::Folder(folder) => folder.recorder().write(f),
            Engine::File(_) | Engine::Postgres(_) => self.write(f),
        }
    }

    /// Runs `f` in one read transaction, so what it reads comes from one snapshot; for a
    /// shared folder, first copies in the jobs other workers recorded since the last read
    /// (see [`Folder::read`]).
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        match &self.engine {
            Engine::File(file) => file.read(f),
            Engine::Folder(folder) => folder.read(f),
            Engine::Postgres(pg) => pg.read(f).map_err(|source| HistoryError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Retention: deletes the jobs recorded before `cutoff` with their runs and results,
    /// recomputes the per-test totals from the results left, then deletes the test cases
    /// no job mentions any more. Returns how many jobs went.
    pub fn delete_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        if let Engine::Folder(folder) = &self.engine {
            // Each worker file loses its old jobs (they are the ones read back), and the
            // merged copy too, so it does not show them until the next start.
            let deleted = folder.delete_jobs_before(cutoff)?;
            self.write(|db| jobs::delete_before(db, cutoff))?;
            return Ok(deleted);
        }
        self.write(|db| jobs::delete_before(db, cutoff))
    }
}

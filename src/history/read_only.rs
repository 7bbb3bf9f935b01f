//! Reading a history file without changing it ([`SqliteStore::open_read_only`]): `history` and
//! the dashboard used to open every file as a writer does, so reading a folder migrated and
//! rewrote each `*.db` in it: a foreign SQLite file gained our tables, an empty file became
//! a history database, a WAL file was switched to a rollback journal (issue 21, finding 8).
//! Now a file is opened `SQLITE_OPEN_READ_ONLY` with no migration and no journal change;
//! what is not a history database is refused with the reason (the folder skips it with a
//! warning); and what cannot be read in place without a write is read through a private
//! copy: a file of an older schema (the copy is migrated) and, in a folder, a WAL file (a
//! read-only connection would leave `-shm` and `-wal` files next to it).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::error::HistoryError;
use super::migrations::{self, MigrateError, Migrated};
use super::sqlite::{Journal, SqliteStore, configure};

/// What SQLite writes at the start of every database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How a WAL-mode file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalRead {
    /// In place: the `history --db FILE` and dashboard's own file, which `run` keeps in WAL
    /// mode and whose `-shm` and `-wal` files belong to it anyway; new jobs show at once.
    InPlace,
    /// Through a private copy: a file in a shared folder, whose neighbours must not change.
    Copy,
}

/// What the first bytes of a file say it is.
struct Header {
    wal: bool,
}

/// Reads the header of `path` without blocking and without following it if it is not a
/// regular file (a FIFO, a device).
fn header(path: &Path) -> Result<Header, HistoryError> {
    let not_history = |reason| HistoryError::NotHistory {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|source| HistoryError::Folder {
            path: path.to_path_buf(),
            source,
        })?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(not_history("not a regular file"));
    }
    let mut bytes = Vec::with_capacity(100);
    file.take(100)
        .read_to_end(&mut bytes)
        .map_err(|source| HistoryError::Folder {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.is_empty() {
        return Err(not_history("the file is empty"));
    }
    if bytes.len() < 20 || !bytes.starts_with(SQLITE_HEADER) {
        return Err(not_history("not a SQLite database"));
    }
    // Bytes 18 and 19 are the write and read versions: 2 for WAL, 1 for a rollback journal.
    // SQLite opens the WAL (creating `-shm` and `-wal`) when the read version alone says 2,
    // so either byte at 2 counts (the fuzz target found `3, 2`).
    Ok(Header {
        wal: bytes[18] == 2 || bytes[19] == 2,
    })
}

impl SqliteStore {
    /// Opens the existing history file `path` for reading only: nothing of the file or its
    /// folder changes, whatever the file is. See the module documentation.
    pub fn open_read_only(path: &Path, wal: WalRead) -> Result<SqliteStore, HistoryError> {
        let header = header(path)?;
        if header.wal && wal == WalRead::Copy {
            return snapshot(path);
        }
        let open = || {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|conn| configure(&conn, Journal::Rollback).map(|()| conn))
            .map_err(|source| HistoryError::Open {
                path: path.to_path_buf(),
                source: source.into(),
            })
        };
        let reader = open()?;
        let version = schema_version(&reader, path)?;
        let latest = migrations::latest();
        if version > latest {
            return Err(HistoryError::Migrate {
                path: path.to_path_buf(),
                source: MigrateError::TooNew {
                    found: version,
                    known: latest,
                },
            });
        }
        if version < latest {
            drop(reader);
            return snapshot(path);
        }
        let migrated = Migrated {
            from: version,
            to: version,
        };
        Ok(SqliteStore::from_connections(
            path,
            open()?,
            reader,
            migrated,
            None,
        ))
    }
}

/// The history schema version of `conn` (the file `path`); a database without one is
/// refused as not a history database (a foreign SQLite file).
fn schema_version(conn: &Connection, path: &Path) -> Result<u32, HistoryError> {
    let read_error = |source: rusqlite::Error| HistoryError::Read {
        path: path.to_path_buf(),
        source: source.into(),
    };
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(read_error)?;
    if version > 0 {
        return Ok(version);
    }
    let ours: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs')",
            [],
            |row| row.get(0),
        )
        .map_err(read_error)?;
    Err(HistoryError::NotHistory {
        path: path.to_path_buf(),
        reason: if ours {
            "its schema has no version"
        } else {
            "a SQLite database without history tables"
        },
    })
}

/// A store over a private copy of `path` (and its `-wal`, so committed jobs still in it are
/// read), migrated to the latest schema; shown as `path`.
fn snapshot(path: &Path) -> Result<SqliteStore, HistoryError> {
    let copy_error = |source| HistoryError::Folder {
        path: path.to_path_buf(),
        source,
    };
    let dir = tempfile::Builder::new()
        .prefix("flaky-history-snapshot-")
        .tempdir()
        .map_err(copy_error)?;
    let copy = dir.path().join("history.db");
    std::fs::copy(path, &copy).map_err(copy_error)?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = Path::new(&wal);
    if wal.is_file() {
        std::fs::copy(wal, dir.path().join("history.db-wal")).map_err(copy_error)?;
    }
    let checked = Connection::open(&copy).map_err(|source| HistoryError::Open {
        path: path.to_path_buf(),
        source: source.into(),
    })?;
    schema_version(&checked, path)?;
    drop(checked);
    let opened = SqliteStore::open_with(&copy, Journal::Rollback)?;
    let migrated = opened.migrated();
    drop(opened);
    let open = |flags| {
        Connection::open_with_flags(&copy, flags)
            .and_then(|conn| configure(&conn, Journal::Rollback).map(|()| conn))
            .map_err(|source| HistoryError::Open {
                path: path.to_path_buf(),
                source: source.into(),
            })
    };
    let writer = open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let reader = open(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    Ok(SqliteStore::from_connections(
        path,
        writer,
        reader,
        migrated,
        Some(dir),
    ))
}

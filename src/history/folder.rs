//! History on a volume that several hosts mount (the RunPod network volume): one SQLite file
//! per worker, named by its pod id, in a rollback journal. WAL keeps its index in shared
//! memory, which processes on different hosts cannot share, so two pods writing one WAL file
//! can lose or corrupt jobs; with a file per worker each file has a single writer, and the
//! only cross-host locking left is a reader against that writer.
//!
//! Reads cover every file in the folder through a merged copy: a private WAL file in the
//! temp directory into which each read first copies the jobs recorded since the last one
//! (by row id per file), so the pages and `history` run their usual queries on one database.
//! Job ids in the merged copy are its own; a worker's `run_id` is the id in its file.
//!
//! A folder is made of SQLite engines ([`SqliteStore`]), not of `Store`s, and `Store` holds
//! a folder as one of its engines: so this module, below `store.rs`, never names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::columns::{RunId, timestamp};
use super::error::HistoryError;
use super::jobs;
use super::read_only::WalRead;
use super::sql::{DbError, Exec, values};
use super::sqlite::{Journal, SqliteStore};

/// The extension of the per-worker files; others in the folder are ignored.
const EXTENSION: &str = "db";

/// A shared history folder, as one process sees it.
pub struct Folder {
    dir: PathBuf,
    /// This process's own file, when it records jobs.
    own: Option<SqliteStore>,
    /// The merged copy every read goes to, shown as `dir`. Declared (so closed) before
    /// `_scratch`, the directory it is in.
    merged: SqliteStore,
    /// Holds the merged copy; removed when the store is dropped.
    _scratch: tempfile::TempDir,
    /// Every worker file read so far, with the last job id copied from it.
    sources: Mutex<BTreeMap<PathBuf, Source>>,
    /// Files that are not history databases, as they were when skipped (warned once).
    skipped: Mutex<BTreeMap<PathBuf, Option<Stamp>>>,
}

struct Source {
    store: SqliteStore,
    copied_up_to: i64,
    /// For a store over a private copy: the file's size and time when copied, so a file
    /// that changed since is copied again.
    copied_at: Option<Stamp>,
}

/// A file's size and modification time: enough to tell that it changed.
type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

/// The file name a worker writes: its id with anything but letters, digits, `.`, `_` and
/// `-` replaced, so a pod id can never name a path outside the folder.
pub fn worker_file_name(worker: &str) -> String {
    let safe: String = worker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { "worker" } else { safe };
    format!("{safe}.{EXTENSION}")
}

impl Folder {
    pub(super) fn open(dir: &Path, worker: Option<&str>) -> Result<Folder, HistoryError> {
        let folder_error = |source| HistoryError::Folder {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(folder_error)?;
        let scratch = tempfile::Builder::new()
            .prefix("flaky-history-merged-")
            .tempdir()
            .map_err(folder_error)?;
        let own = worker
            .map(|worker| {
                SqliteStore::open_with(&dir.join(worker_file_name(worker)), Journal::Rollback)
            })
            .transpose()?;
        let merged =
            SqliteStore::open_with(&scratch.path().join("merged.db"), Journal::Wal)?.shown_as(dir);
        Ok(Folder {
            dir: dir.to_path_buf(),
            own,
            merged,
            _scratch: scratch,
            sources: Mutex::new(BTreeMap::new()),
            skipped: Mutex::new(BTreeMap::new()),
        })
    }

    /// The merged copy of every worker file, as far as the last read copied them.
    pub(super) fn merged(&self) -> &SqliteStore {
        &self.merged
    }

    /// The file jobs are recorded into: this process's own, or the merged copy for a
    /// reader.
    pub(super) fn recorder(&self) -> &SqliteStore {
        self.own.as_ref().unwrap_or(&self.merged)
    }

    /// Runs `f` in one read transaction of the merged copy, after copying in the jobs
    /// recorded since the last read. A file that cannot be read is logged and skipped, so
    /// one damaged worker file does not take the dashboard down.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, DbError>,
    ) -> Result<T, HistoryError> {
        if let Err(error) = self.merge() {
            tracing::warn!(error = %crate::errors::one_line(&error), "history folder not fully read");
        }
        self.merged.read(f)
    }

    /// The worker files now in the folder, sorted.
    fn files(&self) -> Result<Vec<PathBuf>, HistoryError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| HistoryError::Folder {
            path: self.dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension().is_some_and(|e| e == EXTENSION)
                    && path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| !n.starts_with('.'))
                    && path.is_file()
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Copies into the merged copy the jobs recorded in any worker file since the last
    /// call. Every file is tried; the first error is returned after the others were read.
    fn merge(&self) -> Result<(), HistoryError> {
        let mut sources = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut skipped = self
            .skipped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut first_error = None;
        for file in self.files()? {
            let now = stamp(&file);
            let stale = sources
                .get(&file)
                .is_some_and(|source| source.copied_at.is_some() && source.copied_at != now);
            if skipped.get(&file).is_some_and(|when| *when == now) {
                continue;
            }
            if stale || !sources.contains_key(&file) {
                // Read-only: reading the folder never changes a file in it (issue 21,
                // finding 8); a copy is taken where a file cannot be read in place.
                match SqliteStore::open_read_only(&file, WalRead::Copy) {
                    Ok(store) => {
                        let copied_up_to = sources.get(&file).map_or(0, |s| s.copied_up_to);
                        let copied_at = store.is_snapshot().then_some(now).flatten();
                        sources.insert(
                            file.clone(),
                            Source {
                                store,
                                copied_up_to,
                                copied_at,
                            },
                        );
                        skipped.remove(&file);
                    }
                    Err(error @ HistoryError::NotHistory { .. }) => {
                        tracing::warn!(error = %crate::errors::one_line(&error), "history folder: file skipped");
                        skipped.insert(file.clone(), now);
                        continue;
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                        continue;
                    }
                }
            }
            if let Some(source) = sources.get_mut(&file)
                && let Err(error) = copy_new_jobs(source, &self.merged)
            {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Retention over every worker file (see `Store::delete_jobs_before`). Returns how many
    /// jobs went in all.
    pub(super) fn delete_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        let mut deleted = 0;
        for file in self.files()? {
            // A file that is not a history database is left as it is, not given our tables.
            if let Err(HistoryError::NotHistory { .. }) =
                SqliteStore::open_read_only(&file, WalRead::Copy)
            {
                continue;
            }
            deleted += SqliteStore::open_with(&file, Journal::Rollback)?
                .write(|db| jobs::delete_before(db, cutoff))?;
        }
        Ok(deleted)
    }
}

/// Copies the jobs of `source` newer than its mark, each with its original time.
fn copy_new_jobs(source: &mut Source, merged: &SqliteStore) -> Result<(), HistoryError> {
    let new: Vec<(i64, i64)> = source.store.read(|db| {
        db.rows(
            "SELECT id, recorded_at FROM jobs WHERE id > ?1 ORDER BY id",
            &values![source.copied_up_to],
        )?
        .iter()
        .map(|row| Ok((row.get(0)?, row.get(1)?)))
        .collect::<Result<Vec<_>, DbError>>()
    })?;
    for (id, recorded_at) in new {
        let id = RunId(id);
        let read = source.store.read(|db| jobs::read_summary(db, id))?;
        if let Some(summary) = read
            .map(|s| s.decode(id, source.store.path()))
            .transpose()?
        {
            let document = jobs::summary_document(&summary)?;
            merged.write(|db| jobs::insert(db, &summary, timestamp(recorded_at), &document))?;
        }
        source.copied_up_to = id.0;
    }
    Ok(())
}

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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::columns::RunId;
use super::queries::timestamp;
use super::read_only::WalRead;
use super::sql::{DbError, values};
use super::store::{HistoryError, Journal, Store};

/// The extension of the per-worker files; others in the folder are ignored.
const EXTENSION: &str = "db";

/// A shared history folder, as one process sees it.
pub struct Folder {
    dir: PathBuf,
    /// This process's own file, when it records jobs.
    own: Option<Store>,
    /// Holds the merged copy; removed when the store is dropped.
    scratch: tempfile::TempDir,
    /// Every worker file read so far, with the last job id copied from it.
    sources: Mutex<BTreeMap<PathBuf, Source>>,
    /// Files that are not history databases, as they were when skipped (warned once).
    skipped: Mutex<BTreeMap<PathBuf, Option<Stamp>>>,
}

struct Source {
    store: Store,
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
            .map(|worker| Store::open_with(&dir.join(worker_file_name(worker)), Journal::Rollback))
            .transpose()?;
        Ok(Folder {
            dir: dir.to_path_buf(),
            own,
            scratch,
            sources: Mutex::new(BTreeMap::new()),
            skipped: Mutex::new(BTreeMap::new()),
        })
    }

    pub(super) fn merged_path(&self) -> PathBuf {
        self.scratch.path().join("merged.db")
    }

    /// The file this process records into; `None` for a reader.
    pub(super) fn own(&self) -> Option<&Store> {
        self.own.as_ref()
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

    /// Copies into `merged` the jobs recorded in any worker file since the last call. Every
    /// file is tried; the first error is returned after the others were read.
    pub(super) fn merge_into(&self, merged: &Store) -> Result<(), HistoryError> {
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
                match Store::open_read_only(&file, WalRead::Copy) {
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
                && let Err(error) = copy_new_jobs(source, merged)
            {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Retention over every worker file. Returns how many jobs went in all.
    pub(super) fn delete_jobs_before(&self, cutoff: DateTime<Utc>) -> Result<usize, HistoryError> {
        let mut deleted = 0;
        for file in self.files()? {
            // A file that is not a history database is left as it is, not given our tables.
            if let Err(HistoryError::NotHistory { .. }) =
                Store::open_read_only(&file, WalRead::Copy)
            {
                continue;
            }
            deleted += Store::open_with(&file, Journal::Rollback)?.delete_jobs_before(cutoff)?;
        }
        Ok(deleted)
    }
}

/// Copies the jobs of `source` newer than its mark, each with its original time.
fn copy_new_jobs(source: &mut Source, merged: &Store) -> Result<(), HistoryError> {
    let new: Vec<(i64, i64)> = source.store.read_here(|db| {
        db.rows(
            "SELECT id, recorded_at FROM jobs WHERE id > ?1 ORDER BY id",
            &values![source.copied_up_to],
        )?
        .iter()
        .map(|row| Ok((row.get(0)?, row.get(1)?)))
        .collect::<Result<Vec<_>, DbError>>()
    })?;
    for (id, recorded_at) in new {
        if let Some(summary) = source.store.summary_in(RunId(id), true)? {
            merged.record_here(&summary, timestamp(recorded_at))?;
        }
        source.copied_up_to = id;
    }
    Ok(())
}

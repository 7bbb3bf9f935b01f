//! Jobs whose history write failed (the database was down), kept as JSON files in a folder
//! and written when the database answers again: at the next start, after the next job that
//! is recorded, and on a timer ([`super::retry_pending_every`], which the worker and `serve`
//! run).
//! A job's summary is returned either way; this keeps its history row.
//!
//! Several processes may share the folder (RunPod workers on one network volume), and one
//! process may retry from its timer while a job's write retries too, so a file is claimed
//! before it is written: renamed to a name only its claimer knows. Renaming is atomic, so a
//! job is written by one process only.
//!
//! The folder may be on a volume that jobs can write to (RunPod's), and may hold jobs of
//! several stores, so each entry names the store it belongs to (its identity) and is only
//! written there; an entry is read only when it is a regular file of at most
//! [`ENTRY_CAP`] bytes, opened without blocking; and an entry the database refuses (as
//! opposed to a database that is down) is set aside with the reason, so it never holds back
//! the entries behind it (issue 21, findings 5 to 7).
//!
//! The folder is below the store that owns it: a pass is handed the store's identity and a
//! way to record one job, so this module names no `Store`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::columns::RunId;
use super::error::HistoryError;
use crate::summary::Summary;

/// A claim older than this was left by a process that stopped while writing the job (a
/// write takes well under a second); the job is put back for the next try.
const STALE_CLAIM: Duration = Duration::from_secs(15 * 60);

/// The longest pause between tries while the database stays down.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10 * 60);

/// Largest pending entry read or kept: a summary of 1,000 runs with their capped output
/// is far below it; anything larger was not written by us.
pub const ENTRY_CAP: u64 = 256 * 1024 * 1024;

/// One job waiting to be recorded, with the time it finished and the store it belongs to.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingJob {
    pub recorded_at: DateTime<Utc>,
    /// The identity of the store the job was meant for (`Store::identity`); absent in
    /// entries written before it was recorded, which any store takes, as they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub summary: Summary,
}

/// The folder of a store's pending jobs, and the lock that keeps this process to one retry
/// at a time.
#[derive(Debug)]
pub(super) struct PendingDir {
    dir: PathBuf,
    retrying: Mutex<()>,
}

/// What one pass over the pending folder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retried {
    /// Jobs written to the database.
    pub recorded: usize,
    /// Jobs still waiting (the database is still down, or another process holds them).
    pub left: usize,
    /// Entries of other stores, left for them.
    pub other_stores: usize,
    /// Entries set aside: unreadable, not a regular file, too large, or refused by the
    /// database (each with a `.reason` file saying why).
    pub set_aside: usize,
}

/// Where this machine keeps jobs not yet recorded: on the RunPod volume when it is mounted
/// (it outlives the worker), else the XDG data directory.
pub fn default_pending_dir() -> PathBuf {
    let volume = Path::new("/runpod-volume");
    if volume.is_dir() {
        volume.join("flaky-detector").join("history-pending")
    } else {
        dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("flaky-detector")
            .join("history-pending")
    }
}

impl PendingDir {
    /// Jobs whose write fails are kept in `dir`.
    pub(super) fn new(dir: PathBuf) -> PendingDir {
        PendingDir {
            dir,
            retrying: Mutex::new(()),
        }
    }

    /// Saves `summary` for a later write into the store `identity`; returns the file, or
    /// why it could not be saved.
    pub(super) fn save(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
        identity: String,
    ) -> Result<PathBuf, String> {
        let dir = &self.dir;
        let job = PendingJob {
            recorded_at,
            store: Some(identity),
            summary: summary.clone(),
        };
        let path = dir.join(format!(
            "{}-{}.json",
            recorded_at.format("%Y%m%dT%H%M%S"),
            uuid::Uuid::new_v4()
        ));
        let saved = std::fs::create_dir_all(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| serde_json::to_vec(&job).map_err(|e| e.to_string()))
            .and_then(|bytes| {
                if bytes.len() as u64 > ENTRY_CAP {
                    return Err(format!("the job is larger than {ENTRY_CAP} bytes"));
                }
                // Written under a temporary name and renamed, so a retry never reads half.
                let partial = path.with_extension("partial");
                std::fs::write(&partial, bytes)
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(|e| e.to_string())
            });
        saved.map(|()| path)
    }

    /// Writes the jobs waiting in the pending folder, oldest first, removing each once it
    /// is recorded; stops at the first failure (the database is still down). When this
    /// process is already retrying (its timer and a finished job may both start a pass),
    /// returns at once: that pass covers the folder. Entries of another store than
    /// `identity` are left for it; `record` writes one job to this one.
    pub(super) fn retry(
        &self,
        identity: &str,
        mut record: impl FnMut(&Summary, DateTime<Utc>) -> Result<RunId, HistoryError>,
    ) -> Retried {
        let _one_at_a_time = match self.retrying.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Retried::default(),
        };
        let files = pending_files(&self.dir);
        let mut retried = Retried {
            left: files.len(),
            ..Retried::default()
        };
        for file in files {
            let Some(claimed) = claim(&file) else {
                // Another process took it, or it is gone; that process accounts for it.
                retried.left -= 1;
                continue;
            };
            let job = match read_entry(&claimed) {
                Ok(job) => job,
                Err(reason) => {
                    set_aside(&claimed, &file, "unreadable", &reason);
                    retried.left -= 1;
                    retried.set_aside += 1;
                    continue;
                }
            };
            if job.store.as_ref().is_some_and(|store| store != identity) {
                let _ = std::fs::rename(&claimed, &file);
                retried.left -= 1;
                retried.other_stores += 1;
                continue;
            }
            match record(&job.summary, job.recorded_at) {
                Ok(_) => {
                    let _ = std::fs::remove_file(&claimed);
                    retried.recorded += 1;
                    retried.left -= 1;
                }
                Err(error) if error.refuses_the_job() => {
                    set_aside(
                        &claimed,
                        &file,
                        "rejected",
                        &crate::errors::one_line(&error),
                    );
                    retried.left -= 1;
                    retried.set_aside += 1;
                }
                Err(error) => {
                    let _ = std::fs::rename(&claimed, &file);
                    tracing::warn!(error = %crate::errors::one_line(&error), "history still unavailable; pending jobs kept");
                    break;
                }
            }
        }
        if retried.recorded > 0 {
            tracing::info!(recorded = retried.recorded, "pending history jobs recorded");
        }
        retried
    }
}

/// The job in the claimed entry `path`, or why it cannot be read. Never blocks: a FIFO, a
/// device or a symlink is refused before any read, and at most [`ENTRY_CAP`] bytes are read.
pub fn read_entry(path: &Path) -> Result<PendingJob, String> {
    let text = crate::workspace::read::read_capped_no_symlink(path, ENTRY_CAP)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not a pending job: {e}"))
}

/// Moves the claimed entry `claimed` (found as `file`) out of the way as `<file>.<kind>`,
/// with `<file>.<kind>.reason` holding `reason`, so it is not read again on every try and an
/// operator can see why.
fn set_aside(claimed: &Path, file: &Path, kind: &str, reason: &str) {
    let aside = file.with_extension(kind);
    tracing::warn!(file = %aside.display(), %reason, "pending history job set aside");
    let _ = std::fs::rename(claimed, &aside);
    let _ = std::fs::write(file.with_extension(format!("{kind}.reason")), reason);
}

/// The pending jobs in `dir`, oldest first (names start with the time), after putting back
/// the ones whose claim went stale.
fn pending_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if extension == "json" {
            // Only regular files: a FIFO or a symlink put there is skipped (and left alone).
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(path),
                _ => {
                    tracing::warn!(file = %path.display(), "pending history entry is not a regular file; skipped")
                }
            }
        } else if let Some(claimed_at) = extension.strip_prefix("claimed-")
            && claim_is_stale(claimed_at)
        {
            let back = path.with_extension("json");
            if std::fs::rename(&path, &back).is_ok() {
                files.push(back);
            }
        }
    }
    files.sort();
    files
}

/// Claims `file` for this process by renaming it to `<name>.claimed-<unix time>-<random>`;
/// `None` when another process renamed it first.
fn claim(file: &Path) -> Option<PathBuf> {
    let claimed = file.with_extension(format!(
        "claimed-{}-{}",
        Utc::now().timestamp(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::rename(file, &claimed).ok().map(|()| claimed)
}

/// Whether a claim made at `claimed_at` (`<unix time>-<random>`) is older than
/// [`STALE_CLAIM`]; a name that does not parse is left alone.
fn claim_is_stale(claimed_at: &str) -> bool {
    claimed_at
        .split('-')
        .next()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|t| Utc::now().timestamp() - t > STALE_CLAIM.as_secs() as i64)
}

/// Runs `pass` (one retry of a store's pending jobs) every `interval` until `until` fires,
/// so jobs kept while the database was down are written once it is back, even if no further
/// job comes. While tries fail the pause doubles, up to ten minutes (or `interval` if
/// longer), with up to a quarter more at random so a fleet does not retry in step. Each pass
/// runs on a blocking thread.
pub(super) async fn retry_every(
    pass: Arc<dyn Fn() -> Retried + Send + Sync>,
    interval: Duration,
    until: CancellationToken,
) {
    let cap = MAX_RETRY_WAIT.max(interval);
    let mut wait = interval;
    loop {
        let pause = wait + wait.mul_f64(rand::rng().random_range(0.0..=0.25));
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = until.cancelled() => return,
        }
        let one = Arc::clone(&pass);
        let running = tokio::task::spawn_blocking(move || one());
        let retried = tokio::select! {
            done = running => done.unwrap_or_default(),
            () = until.cancelled() => return,
        };
        wait = if retried.left > 0 {
            tracing::warn!(
                left = retried.left,
                "pending history jobs not recorded yet; next try in about {:?}",
                (wait * 2).min(cap)
            );
            (wait * 2).min(cap)
        } else {
            interval
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_claimed_once() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let file = dir.path().join("20261129T100000-a.json");
        std::fs::write(&file, "{}").expect("written");
        let claimed = claim(&file).expect("the first claim wins");
        assert!(claim(&file).is_none(), "a second claim loses");
        assert!(
            pending_files(dir.path()).is_empty(),
            "a fresh claim is kept"
        );
        let stale = file.with_extension("claimed-1000-x");
        std::fs::rename(&claimed, &stale).expect("renamed");
        assert_eq!(pending_files(dir.path()), vec![file]);
    }
}

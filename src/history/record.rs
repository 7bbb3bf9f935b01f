//! Writing a finished job: [`Store::record`] puts a [`Summary`] (job, runs, test cases and
//! per-test results) in one transaction, and [`record_summary`] is the async step `detect()`
//! ends with, which never loses the summary when the write fails: a job whose write failed
//! waits in the store's pending folder ([`Store::retry_pending`], [`retry_pending_every`]).
//! Here rather than in `pending.rs`, which sits below `Store` and is handed what it needs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::columns::RunId;
use super::error::HistoryError;
use super::jobs;
use super::pending::{self, Retried};
use super::store::Store;
use crate::errors::one_line;
use crate::summary::Summary;

impl Store {
    /// Records `summary` as recorded now. See [`Store::record_at`].
    pub fn record(&self, summary: &Summary) -> Result<RunId, HistoryError> {
        self.record_at(summary, Utc::now())
    }

    /// Records `summary` with `recorded_at` as its time, in one transaction: a reader sees
    /// the whole job with all its runs, or nothing of it. A job without per-test figures is
    /// recorded with its command as its one test case, so the flakiest-tests view still
    /// covers runners that give no per-test report.
    /// In a shared folder the job goes to this worker's own file.
    pub fn record_at(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
    ) -> Result<RunId, HistoryError> {
        let document = jobs::summary_document(summary)?;
        self.write_job(|db| jobs::insert(db, summary, recorded_at, &document))
    }

    /// Saves `summary` for a later write; returns the file, or why it could not be saved.
    pub(super) fn save_pending(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
    ) -> Option<Result<PathBuf, String>> {
        Some(self.pending()?.save(summary, recorded_at, self.identity()))
    }

    /// Writes the jobs waiting in the pending folder that belong to this store, oldest
    /// first, removing each once it is recorded; stops at the first failure (the database
    /// is still down). When this process is already retrying (its timer and a finished job
    /// may both start a pass), returns at once: that pass covers the folder.
    pub fn retry_pending(&self) -> Retried {
        let Some(pending) = self.pending() else {
            return Retried::default();
        };
        pending.retry(&self.identity(), |summary, recorded_at| {
            self.record_at(summary, recorded_at)
        })
    }
}

/// Retries `store`'s pending jobs every `interval` until `until` fires, so jobs kept while
/// the database was down are written once it is back, even if no further job comes. While
/// tries fail the pause doubles, up to ten minutes (or `interval` if longer), with up to a
/// quarter more at random so a fleet does not retry in step. A store that keeps no failed
/// writes returns at once. Each pass runs on a blocking thread.
pub async fn retry_pending_every(store: Arc<Store>, interval: Duration, until: CancellationToken) {
    if !store.keeps_failed_writes() {
        return;
    }
    pending::retry_every(Arc::new(move || store.retry_pending()), interval, until).await;
}

/// Records `summary` off the async threads and returns it with `run_id` set. A failed write
/// is logged and noted in `warnings`: the summary is still reported, since losing a finished
/// job's figures to a full disk or a database that is down would be worse than a late
/// history row. When the store keeps failed writes ([`Store::keep_failed_writes_in`]), the
/// job is saved for a later write, and a successful write first records the jobs waiting.
pub async fn record_summary(store: &Arc<Store>, summary: Summary) -> Summary {
    let writer = Arc::clone(store);
    let shared = Arc::new(summary);
    let task_copy = Arc::clone(&shared);
    let outcome = tokio::task::spawn_blocking(move || {
        let recorded_at = Utc::now();
        let result = writer.record_at(&task_copy, recorded_at);
        match &result {
            Ok(_) => {
                writer.retry_pending();
                (result, None)
            }
            Err(_) => {
                let saved = writer.save_pending(&task_copy, recorded_at);
                (result, saved)
            }
        }
    })
    .await;
    // The task has ended (finished, panicked or never started) and dropped its handle, so
    // this is the only one left; the clone is a fallback that should never run.
    let mut summary =
        Arc::try_unwrap(shared).unwrap_or_else(|still_shared| (*still_shared).clone());
    let (failure, saved) = match outcome {
        Ok((Ok(id), _)) => {
            summary.run_id = Some(id.0);
            return summary;
        }
        Ok((Err(error), saved)) => (one_line(&error), saved),
        Err(join) => (format!("the history write did not finish: {join}"), None),
    };
    tracing::warn!(error = %failure, "history write failed");
    let retry = match saved {
        Some(Ok(path)) => format!(
            "; kept in {} and written when the database is back",
            path.display()
        ),
        Some(Err(error)) => format!("; it could not be kept for a later write either: {error}"),
        None => String::new(),
    };
    summary
        .warnings
        .push(format!("not recorded in history: {failure}{retry}"));
    summary
}

//! Jobs whose history write failed (the database was down), kept as JSON files in a folder
//! and written when the database answers again: at the next start and after the next job
//! that is recorded. A job's summary is returned either way; this keeps its history row.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::Store;
use crate::summary::Summary;

/// One job waiting to be recorded, with the time it finished.
#[derive(Debug, Serialize, Deserialize)]
struct PendingJob {
    recorded_at: DateTime<Utc>,
    summary: Summary,
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

impl Store {
    /// Keeps jobs whose write fails in `dir`, to be written later.
    pub fn keep_failed_writes_in(&mut self, dir: PathBuf) {
        self.pending = Some(dir);
    }

    /// Saves `summary` for a later write; returns the file, or why it could not be saved.
    pub(super) fn save_pending(
        &self,
        summary: &Summary,
        recorded_at: DateTime<Utc>,
    ) -> Option<Result<PathBuf, String>> {
        let dir = self.pending.as_ref()?;
        let job = PendingJob {
            recorded_at,
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
                // Written under a temporary name and renamed, so a retry never reads half.
                let partial = path.with_extension("partial");
                std::fs::write(&partial, bytes)
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(|e| e.to_string())
            });
        Some(saved.map(|()| path))
    }

    /// Writes the jobs waiting in the pending folder, oldest first, removing each once it
    /// is recorded; stops at the first failure (the database is still down). Returns how
    /// many were recorded.
    pub fn retry_pending(&self) -> usize {
        let Some(dir) = &self.pending else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut recorded = 0;
        for file in files {
            let job = std::fs::read(&file)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<PendingJob>(&bytes).ok());
            let Some(job) = job else {
                tracing::warn!(file = %file.display(), "unreadable pending history job left in place");
                continue;
            };
            match self.record_at(&job.summary, job.recorded_at) {
                Ok(_) => {
                    let _ = std::fs::remove_file(&file);
                    recorded += 1;
                }
                Err(error) => {
                    tracing::warn!(error = %crate::errors::one_line(&error), "history still unavailable; pending jobs kept");
                    break;
                }
            }
        }
        if recorded > 0 {
            tracing::info!(recorded, "pending history jobs recorded");
        }
        recorded
    }
}

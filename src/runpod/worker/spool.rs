//! The result spool ([`Spool`]): a finished job's result that job-done would not take is
//! written here and re-posted later (at start and periodically), so a summary is never
//! dropped because the platform had a bad minute. One JSON file per result.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::post::{PostOutcome, PostPolicy, post_json};

/// Where refused results (4xx from job-done) are kept for an operator to look at.
const REFUSED_DIR: &str = "refused";

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot create the result spool directory {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write a spooled result in {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A result waiting for delivery: where it goes and the exact body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpooledResult {
    pub job_id: String,
    /// The job-done URL as it was first tried (it names the worker that ran the job).
    pub url: String,
    /// The JSON text to post.
    pub body: String,
    pub spooled_at: chrono::DateTime<chrono::Utc>,
}

/// What one pass over the spool did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    pub delivered: usize,
    pub refused: usize,
    pub left: usize,
}

/// A directory of undelivered results.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating) the spool directory.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(|source| SpoolError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Spool {
            dir: dir.to_path_buf(),
        })
    }

    /// The default: on the RunPod network volume when there is one (it outlives the pod),
    /// else the XDG data dir.
    pub fn default_dir() -> PathBuf {
        let volume = Path::new("/runpod-volume");
        if volume.is_dir() {
            return volume.join("flaky-detector").join("spool");
        }
        dirs::data_dir()
            .map(|d| d.join("flaky-detector").join("spool"))
            .unwrap_or_else(|| std::env::temp_dir().join("flaky-detector-spool"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a result atomically (a temp file renamed into place), so a crash never leaves
    /// half a body to be posted.
    pub fn store(&self, result: &SpooledResult) -> Result<PathBuf, SpoolError> {
        let write_error = |source| SpoolError::Write {
            path: self.dir.clone(),
            source,
        };
        let text = serde_json::to_vec(result).map_err(|e| write_error(e.into()))?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(write_error)?;
        file.write_all(&text).map_err(write_error)?;
        file.as_file().sync_all().map_err(write_error)?;
        let name = format!(
            "{}-{}.json",
            file_safe(&result.job_id),
            uuid::Uuid::new_v4().simple()
        );
        let path = self.dir.join(name);
        file.persist(&path).map_err(|e| write_error(e.error))?;
        Ok(path)
    }

    /// The spooled results, oldest file name first. Unreadable files are moved aside.
    pub fn pending(&self) -> Vec<(PathBuf, SpooledResult)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                let parsed = std::fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<SpooledResult>(&bytes).ok());
                if parsed.is_none() {
                    tracing::warn!(path = %path.display(), "unreadable spooled result moved aside");
                    self.set_aside(&path);
                }
                parsed.map(|result| (path, result))
            })
            .collect()
    }

    /// Tries to deliver every spooled result once.
    pub async fn flush(&self, client: &reqwest::Client, policy: &PostPolicy) -> FlushReport {
        let mut report = FlushReport::default();
        for (path, result) in self.pending() {
            match post_json(
                client,
                &result.url,
                &result.job_id,
                &result.body,
                policy,
                None,
            )
            .await
            {
                PostOutcome::Delivered => {
                    tracing::info!(job_id = %result.job_id, "spooled result delivered");
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(path = %path.display(), "cannot remove a delivered spooled result: {e}");
                    }
                    report.delivered += 1;
                }
                PostOutcome::Refused(status) => {
                    tracing::error!(
                        job_id = %result.job_id,
                        "job-done refused a spooled result with HTTP {status}; kept in {}/{REFUSED_DIR}",
                        self.dir.display()
                    );
                    self.set_aside(&path);
                    report.refused += 1;
                }
                PostOutcome::Failed(_) | PostOutcome::Aborted => report.left += 1,
            }
        }
        report
    }

    fn set_aside(&self, path: &Path) {
        let aside = self.dir.join(REFUSED_DIR);
        let moved = std::fs::create_dir_all(&aside).and_then(|()| {
            let name = path.file_name().unwrap_or_default();
            std::fs::rename(path, aside.join(name))
        });
        if let Err(e) = moved {
            tracing::warn!(path = %path.display(), "cannot move a spooled result aside: {e}");
        }
    }
}

/// A job id as part of a file name: anything but letters, digits, `-` and `_` becomes `_`.
fn file_safe(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_lists_results_and_sets_junk_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(&dir.path().join("spool")).expect("open");
        let result = SpooledResult {
            job_id: "../job 1".into(),
            url: "http://127.0.0.1:1/done".into(),
            body: r#"{"output":{}}"#.into(),
            spooled_at: chrono::Utc::now(),
        };
        let path = spool.store(&result).expect("store");
        assert!(
            path.starts_with(spool.dir()),
            "the id cannot escape the spool"
        );
        std::fs::write(spool.dir().join("junk.json"), "{").expect("write");
        let pending = spool.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1, result);
        assert!(spool.dir().join(REFUSED_DIR).join("junk.json").is_file());
    }
}

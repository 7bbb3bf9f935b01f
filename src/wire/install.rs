//! What the install did, as the summary reports it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::job::Framework;

/// What happened to the dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallStatus {
    /// Nothing to install (no dependency file for this framework).
    Skipped,
    /// `auto_install_dependencies: false`.
    Disabled,
    /// Restored from the cache.
    Cached,
    Installed,
    Failed,
}

impl fmt::Display for InstallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstallStatus::Skipped => "skipped",
            InstallStatus::Disabled => "disabled",
            InstallStatus::Cached => "cached",
            InstallStatus::Installed => "installed",
            InstallStatus::Failed => "failed",
        })
    }
}

/// The install step as it appears in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallReport {
    pub status: InstallStatus,
    pub framework: Framework,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
    /// The step that failed, as a user would type it (`pip install -r requirements.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// The requirement, package or module the failed step could not install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The installer's own one-line reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The interpreter or toolchain the install used (`Python 3.11.7`, `go version go1.22`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// How to get past a failed install: the `.flaky-detector.yml` keys that change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub way_out: Option<String>,
    /// What the one probe run met when the install failed (its first error line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_error: Option<String>,
}

//! Which mechanism kept a job's runs apart, as the summary names it.

use serde::{Deserialize, Serialize};

/// What gives each run its own view of the checkout. Named in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// An overlay mount on the checkout in the run's own mount namespace: O(1) per run.
    Overlay,
    /// A copy of the checkout per run (copy-on-write clones where the filesystem has them).
    Copy,
    /// One copy per slot, reset between runs by comparing metadata.
    Slot,
    /// No copy: every run in the prepared checkout (`isolation: shared`).
    Shared,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Overlay => "overlay",
            Mechanism::Copy => "copy",
            Mechanism::Slot => "slot",
            Mechanism::Shared => "shared",
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

//! [`Verdict`]: what a set of runs says about a command or a test case.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every run passed: no flakiness seen (within the interval's bound).
    Stable,
    /// Both passed and failed.
    Flaky,
    /// Failed every run: a real bug or a broken setup, not a flake.
    AlwaysFailing,
    /// No run completed (all cancelled).
    Inconclusive,
    /// The dependencies did not install and a probe run failed too: the runs were not
    /// started, since each would only meet the missing package. Says nothing about flakiness.
    InstallFailed,
}

impl Verdict {
    pub fn of(failures: u32, runs: u32) -> Verdict {
        match (failures, runs) {
            (_, 0) => Verdict::Inconclusive,
            (0, _) => Verdict::Stable,
            (f, n) if f >= n => Verdict::AlwaysFailing,
            _ => Verdict::Flaky,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Flaky => "flaky",
            Verdict::AlwaysFailing => "always-failing",
            Verdict::Inconclusive => "inconclusive",
            Verdict::InstallFailed => "install-failed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

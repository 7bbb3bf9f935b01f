//! The figures every subject carries on the wire: its [`Verdict`], its [`Severity`] and the
//! [`Thresholds`] that placed its rate in a band.

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
/// Ordered from harmless to worst, so `severity >= Severity::Medium` reads as it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The band of `rate` (the seed project's rule: at or above a threshold).
    pub fn of(rate: f64, t: &Thresholds) -> Severity {
        if rate >= t.critical {
            Severity::Critical
        } else if rate >= t.high {
            Severity::High
        } else if rate >= t.medium {
            Severity::Medium
        } else if rate >= t.low && rate > 0.0 {
            Severity::Low
        } else {
            Severity::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Failure-rate thresholds that map a rate to a severity (the seed project's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub critical: f64,
    pub high: f64,
    pub medium: f64,
    pub low: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            critical: 0.9,
            high: 0.5,
            medium: 0.1,
            low: 0.01,
        }
    }
}

//! [`Severity`]: a failure rate placed in the bands of the configured thresholds.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Interval;
use crate::config::Thresholds;

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

/// A sentence when the 95 % interval reaches into more than one severity band, so a reader
/// knows the band is a point estimate; `None` when the whole interval lies in one band.
pub fn note(interval: Interval, t: &Thresholds) -> Option<String> {
    let low = Severity::of(interval.low, t);
    let high = Severity::of(interval.high, t);
    (low != high).then(|| {
        format!(
            "the 95% interval {:.1}%-{:.1}% spans {low} to {high} severity; more runs would narrow it",
            interval.low * 100.0,
            interval.high * 100.0
        )
    })
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_thresholds_bands() {
        let t = Thresholds::default();
        assert_eq!(Severity::of(0.0, &t), Severity::None);
        assert_eq!(Severity::of(0.005, &t), Severity::None);
        assert_eq!(Severity::of(0.01, &t), Severity::Low);
        assert_eq!(Severity::of(0.3, &t), Severity::Medium);
        assert_eq!(Severity::of(0.5, &t), Severity::High);
        assert_eq!(Severity::of(1.0, &t), Severity::Critical);
    }

    #[test]
    fn note_only_when_the_interval_spans_bands() {
        let t = Thresholds::default();
        let wide = note(crate::analysis::wilson(1, 10), &t).expect("1/10 spans bands");
        assert!(wide.contains("spans low to medium"), "{wide}");
        assert_eq!(note(crate::analysis::wilson(700, 1000), &t), None);
    }
}

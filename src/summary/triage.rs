//! A triage job's answer ([`TriageReport`]), carried in the summary of its head side: for
//! each failing test of a red pull request, a verdict on whose fault the failure is, with the
//! counts on both sides and why its runs stopped.

use crate::analysis::stats::round3;
use crate::analysis::triage::{Tally, TriageVerdict};
pub use crate::wire::triage::{SideCounts, TestTriage, TriageReport, TriageSide};

impl From<Tally> for SideCounts {
    fn from(tally: Tally) -> SideCounts {
        let interval = tally.interval();
        let rate = if tally.runs == 0 {
            0.0
        } else {
            f64::from(tally.failures) / f64::from(tally.runs)
        };
        SideCounts {
            runs: tally.runs,
            failures: tally.failures,
            rate: round3(rate),
            ci_low: round3(interval.low),
            ci_high: round3(interval.high),
        }
    }
}

impl TriageReport {
    /// True when some failing test was broken by the change (`--fail-on regression`).
    pub fn has_regression(&self) -> bool {
        self.tests
            .iter()
            .any(|t| t.verdict == TriageVerdict::Regression)
    }
}

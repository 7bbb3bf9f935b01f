//! [`Severity`]: a failure rate placed in the bands of the configured thresholds.

use super::Interval;
use crate::config::Thresholds;
pub use crate::wire::figures::Severity;

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

//! Wilson score intervals: how sure we are of a failure rate measured on a sample of runs.
//! Unlike the normal approximation, Wilson stays inside 0..1 and is honest at 0 and n
//! failures, which is exactly where a flaky-test detector lives ("0 failures in 100 runs").

use serde::{Deserialize, Serialize};

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A failure rate's 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Wilson score interval for `failures` out of `runs` at the 95 % level; `[0, 1]` for no runs.
pub fn wilson(failures: u32, runs: u32) -> Interval {
    wilson_z(failures, runs, Z95)
}

pub fn wilson_z(failures: u32, runs: u32, z: f64) -> Interval {
    if runs == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let n = f64::from(runs);
    let p = f64::from(failures.min(runs)) / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At 0 and n failures the bound is exactly 0 or 1; rounding must not say otherwise.
    Interval {
        low: if failures == 0 {
            0.0
        } else {
            (centre - margin).max(0.0)
        },
        high: if failures >= runs {
            1.0
        } else {
            (centre + margin).min(1.0)
        },
    }
}

/// Runs needed to see at least one failure of a flake with rate `p`, with 95 % probability:
/// the smallest n with (1 - p)^n <= 0.05.
pub fn runs_needed(p: f64) -> u32 {
    if p <= 0.0 {
        return u32::MAX;
    }
    if p >= 1.0 {
        return 1;
    }
    ((0.05f64).ln() / (1.0 - p).ln()).ceil() as u32
}

/// Rounds to three decimals, as the seed project reports `repro_rate`.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    /// Published values: Newcombe (1998), "Two-sided confidence intervals for the single
    /// proportion", Statistics in Medicine 17:857-872, table I, method 3 (score, no
    /// continuity correction).
    #[test]
    fn matches_newcombe_1998_table_one() {
        let cases = [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ];
        for (failures, runs, low, high) in cases {
            let i = wilson(failures, runs);
            assert!(
                close(i.low, low) && close(i.high, high),
                "{failures}/{runs}: {i:?}"
            );
        }
    }

    #[test]
    fn zero_in_a_hundred_is_below_four_percent() {
        let i = wilson(0, 100);
        assert_eq!(i.low, 0.0);
        assert!(close(i.high, 0.0370), "{i:?}");
    }

    #[test]
    fn runs_needed_for_one_percent_is_299() {
        assert_eq!(runs_needed(0.01), 299);
        assert_eq!(runs_needed(0.1), 29);
    }
}

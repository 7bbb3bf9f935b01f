//! The `quarantine:` section of `.flaky-detector.yml` ([`QuarantineKeys`]) and the rules it
//! resolves to ([`QuarantineRules`]): which flaky tests the team lets stop blocking merges,
//! and how many clean runs earn a test the `fixed` status.

use serde::Deserialize;

/// The section as written; each key `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QuarantineKeys {
    /// Lowest failure rate (over the window) for a test to be quarantined.
    pub rate_threshold: Option<f64>,
    /// Fewest recorded runs before a test may be quarantined: a rate from a handful of runs
    /// says little.
    pub min_runs: Option<u32>,
    /// Only jobs recorded in the last this many days count.
    pub window_days: Option<u32>,
    /// The failure rate `fixed` must bound from above (at 95 %).
    pub fixed_below: Option<f64>,
}

/// The rules with their defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarantineRules {
    pub rate_threshold: f64,
    pub min_runs: u32,
    pub window_days: u32,
    pub fixed_below: f64,
}

impl Default for QuarantineRules {
    /// 1 % matches the `low` severity band, the rate the detector already calls flaky;
    /// 20 runs are two default jobs; 30 days keep a month of evidence.
    fn default() -> Self {
        QuarantineRules {
            rate_threshold: 0.01,
            min_runs: 20,
            window_days: 30,
            fixed_below: 0.01,
        }
    }
}

impl QuarantineKeys {
    /// The rules, or the first key whose value is out of range and why.
    pub fn resolve(&self) -> Result<QuarantineRules, (&'static str, String)> {
        let d = QuarantineRules::default();
        let rules = QuarantineRules {
            rate_threshold: self.rate_threshold.unwrap_or(d.rate_threshold),
            min_runs: self.min_runs.unwrap_or(d.min_runs),
            window_days: self.window_days.unwrap_or(d.window_days),
            fixed_below: self.fixed_below.unwrap_or(d.fixed_below),
        };
        if !(rules.rate_threshold > 0.0 && rules.rate_threshold <= 1.0) {
            return Err((
                "rate_threshold",
                format!(
                    "must be above 0 and at most 1, got {}",
                    rules.rate_threshold
                ),
            ));
        }
        // Below 0.3 % the clean runs `fixed` needs pass the 1,000 runs a job may make.
        if !(0.003..1.0).contains(&rules.fixed_below) {
            return Err((
                "fixed_below",
                format!(
                    "must be at least 0.003 (999 clean runs) and below 1, got {}",
                    rules.fixed_below
                ),
            ));
        }
        if !(1..=36_500).contains(&rules.window_days) {
            return Err((
                "window_days",
                format!("must be between 1 and 36500, got {}", rules.window_days),
            ));
        }
        Ok(rules)
    }
}

impl QuarantineRules {
    /// Clean runs in a row that show, at 95 % confidence, a failure rate below
    /// `fixed_below`: the smallest n with (1 − p)ⁿ ≤ 0.05, so a test failing at rate p
    /// would show at least one failure in n runs 95 % of the time. 299 for 1 %; Datadog's
    /// 20 clean retries only bound the rate below 13.9 %.
    pub fn clean_runs_for_fixed(&self) -> u32 {
        clean_runs_needed(self.fixed_below)
    }
}

/// The n of [`QuarantineRules::clean_runs_for_fixed`] for a rate `p` in (0, 1).
pub fn clean_runs_needed(p: f64) -> u32 {
    let n = (0.05f64.ln() / (1.0 - p).ln()).ceil();
    if n.is_finite() && n >= 1.0 {
        n.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

/// The rate that `clean` clean runs in a row bound from above at 95 % (one-sided, exact:
/// the p with (1 − p)^clean = 0.05); 1 with no clean run.
pub fn bound_after_clean_runs(clean: u64) -> f64 {
    if clean == 0 {
        1.0
    } else {
        1.0 - 0.05f64.powf(1.0 / clean as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_runs_needed_match_the_published_figures() {
        assert_eq!(clean_runs_needed(0.01), 299);
        assert_eq!(clean_runs_needed(0.2), 14);
        assert_eq!(clean_runs_needed(0.05), 59);
        // Datadog's 20 clean retries: the bound they earn is 13.9 %.
        assert!((bound_after_clean_runs(20) - 0.139).abs() < 0.001);
        assert!(bound_after_clean_runs(299) <= 0.01);
        assert!(bound_after_clean_runs(298) > 0.01);
    }

    #[test]
    fn defaults_fill_in_and_bad_values_name_their_key() {
        let rules = QuarantineKeys::default()
            .resolve()
            .expect("defaults are valid");
        assert_eq!(rules, QuarantineRules::default());
        assert_eq!(rules.clean_runs_for_fixed(), 299);
        let keys = QuarantineKeys {
            fixed_below: Some(0.0),
            ..QuarantineKeys::default()
        };
        assert_eq!(keys.resolve().expect_err("zero").0, "fixed_below");
        let keys = QuarantineKeys {
            rate_threshold: Some(1.5),
            ..QuarantineKeys::default()
        };
        assert_eq!(keys.resolve().expect_err("above 1").0, "rate_threshold");
    }
}

//! Early stop (`stop_early: true`, [`settled`]): no new run starts once more runs cannot
//! change the verdict or the severity band. A command that never failed is never settled
//! early, since the next run could be its first failure.

use super::Severity;
use super::per_test::{Ignore, run_failed};
use super::stats::wilson_z;
use crate::config::Thresholds;
use crate::runner::RunRecord;

/// Fewest runs before stopping is considered: a handful of runs says little whatever the
/// interval claims.
pub const MIN_RUNS: u32 = 10;

/// z of a two-sided 99 % interval. Looking at the interval after every run and stopping
/// the first time it fits in a band would make a 95 % interval too eager (each look is
/// another chance of a lucky streak); the wider interval pays for the repeated looks.
const Z_STOP: f64 = 2.575_829_303_548_901;

/// True when `failures` out of `runs` already decide the outcome: at least one failure
/// (so "stable" is ruled out; with both passes and failures the verdict is `flaky` for
/// good), and a 99 % interval inside one severity band. A command that failed every run
/// is settled once even the interval's low end is in the critical band.
pub fn settled(failures: u32, runs: u32, thresholds: &Thresholds) -> bool {
    if runs < MIN_RUNS || failures == 0 {
        return false;
    }
    let interval = wilson_z(failures, runs, Z_STOP);
    Severity::of(interval.low, thresholds) == Severity::of(interval.high, thresholds)
}

/// [`settled`] over the runs so far, counting failures the way the summary will (failures
/// only in ignored test cases do not count).
pub fn settled_runs(records: &[RunRecord], ignore: &Ignore, thresholds: &Thresholds) -> bool {
    let failures = records.iter().filter(|r| run_failed(r, ignore)).count() as u32;
    settled(failures, records.len() as u32, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_settles_without_a_failure_or_before_the_minimum() {
        let t = Thresholds::default();
        assert!(!settled(0, 1000, &t));
        assert!(!settled(9, 9, &t));
    }

    #[test]
    fn an_always_failing_command_settles_once_the_interval_is_critical() {
        let t = Thresholds::default();
        let first = (MIN_RUNS..=200)
            .find(|&n| settled(n, n, &t))
            .expect("settles within 200 runs");
        // n / (n + z²) >= 0.9 with z = 2.576 first holds at n = 60.
        assert_eq!(first, 60);
    }

    #[test]
    fn a_rate_near_a_threshold_does_not_settle() {
        let t = Thresholds::default();
        // 50 % sits on the medium/high boundary: no sample size puts the interval in one band.
        assert!(!settled(100, 200, &t));
        assert!(settled(140, 200, &t));
    }
}

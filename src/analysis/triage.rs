//! Triage of a red pull request's failing tests: each test run at the pull request's head
//! and at its base with the same seeds, and a verdict on whose fault the failure is
//! ([`TriageVerdict`]). [`judge`] decides from the counts of both sides whether the verdict
//! is settled or more runs could still change it, so the runs stop as soon as every test is
//! settled (sequential testing), and says at the end of the budget what the runs rule out.
//!
//! The rules, with `R` = [`RELIABLE_RUNS`] (failing `R` runs of `R` puts the rate above 60 %
//! with 95 % confidence, one-sided):
//! - intermittent on both sides: flaky before this change;
//! - failing every one of ≥ R runs at head, passing every one of ≥ R at base: regression;
//! - failing every one of ≥ R runs on both sides: broken at base too;
//! - failing every run at head, intermittent at base: a regression once head fails
//!   significantly more often ([`fisher_greater`] below 5 %), else flaky before;
//! - intermittent at head, clean at base: a new flake once the difference is significant, or
//!   at the end of the budget when base stayed clean in at least as many runs as head ran;
//! - passing every run at head: could not reproduce, only when the budget is spent, with the
//!   rate the runs rule out;
//! - a test that never ran at base (it is new) is judged at head alone.

use serde::{Deserialize, Serialize};

use super::stats::{Interval, wilson};
pub use crate::wire::triage::TriageVerdict;

/// Runs of one side that must all fail (or all pass) before that side counts as failing
/// (or passing) reliably.
pub const RELIABLE_RUNS: u32 = 6;

/// What one test did on one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Runs in which the test ran (passed or failed).
    pub runs: u32,
    pub failures: u32,
    /// Runs that finished without running the test: it does not exist on this side (or
    /// was skipped).
    pub absent: u32,
}

impl Tally {
    pub fn add(&mut self, outcome: Option<bool>) {
        match outcome {
            Some(failed) => {
                self.runs += 1;
                self.failures += u32::from(failed);
            }
            None => self.absent += 1,
        }
    }

    pub fn interval(&self) -> Interval {
        wilson(self.failures, self.runs)
    }

    fn state(&self) -> Side {
        match (self.runs, self.failures) {
            (0, _) if self.absent > 0 => Side::Absent,
            (0, _) => Side::Unknown,
            (n, f) if f == n && n >= RELIABLE_RUNS => Side::Fails,
            (n, f) if f == n => Side::Unknown,
            (n, 0) if n >= RELIABLE_RUNS => Side::Passes,
            (_, 0) => Side::CleanSoFar,
            _ => Side::Intermittent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// No run yet, or too few runs that all failed to say it fails reliably.
    Unknown,
    Absent,
    Fails,
    Intermittent,
    /// No failure yet, in fewer than [`RELIABLE_RUNS`] runs.
    CleanSoFar,
    /// No failure in at least [`RELIABLE_RUNS`] runs.
    Passes,
}

/// A test's verdict so far: `settled` when more runs cannot change it; `verdict` is what
/// it would be if the runs stopped now (the budget is spent).
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: TriageVerdict,
    pub settled: bool,
    /// True when the test never ran at base: it is new at head.
    pub new_at_head: bool,
    /// The evidence, one sentence with the counts.
    pub evidence: String,
    /// True while base runs could still change the verdict.
    pub needs_base: bool,
}

/// Significance below which a difference between head and base counts as shown.
const SIGNIFICANT: f64 = 0.05;

/// The verdict for a test that ran `head` and `base` (the same seeds on both sides, as far
/// as both went), with `budget_spent` when no more runs will be made.
pub fn judge(head: Tally, base: Tally, budget_spent: bool) -> Judgement {
    let counts = |t: &Tally| format!("{}/{}", t.failures, t.runs);
    let h = head.state();
    let b = base.state();
    let new_at_head = b == Side::Absent;
    let p_worse = fisher_greater(head, base);
    let (verdict, settled, evidence) = match (h, b) {
        (Side::Absent | Side::Unknown, Side::Absent) if head.runs == 0 => (
            TriageVerdict::NotFound,
            head.absent > 0,
            "no run at head or at base ran a test of this name".to_string(),
        ),
        (_, Side::Absent) => judge_new(head, h, budget_spent),
        (Side::Intermittent, Side::Intermittent) => (
            TriageVerdict::FlakyBefore,
            true,
            format!(
                "fails intermittently on both sides: {} runs at head, {} at base",
                counts(&head),
                counts(&base)
            ),
        ),
        (Side::Fails, Side::Passes) => (
            TriageVerdict::Regression,
            true,
            format!(
                "fails every run at head ({}), passes every run at base ({})",
                counts(&head),
                counts(&base)
            ),
        ),
        (Side::Fails | Side::Intermittent, Side::Fails) => (
            TriageVerdict::BrokenAtBase,
            true,
            format!(
                "fails at base too: {} runs at head, {} at base",
                counts(&head),
                counts(&base)
            ),
        ),
        (Side::Fails, Side::Intermittent) if p_worse < SIGNIFICANT => (
            TriageVerdict::Regression,
            true,
            format!(
                "fails every run at head ({}), only some at base ({}; p = {p_worse:.3})",
                counts(&head),
                counts(&base)
            ),
        ),
        (Side::Fails, Side::Intermittent) => (
            TriageVerdict::FlakyBefore,
            budget_spent,
            format!(
                "fails every run at head ({}) and some at base ({}): not more often at head than chance allows (p = {p_worse:.2})",
                counts(&head),
                counts(&base)
            ),
        ),
        (Side::Intermittent, Side::Passes | Side::CleanSoFar | Side::Unknown)
            if base.failures == 0 =>
        {
            let shown = p_worse < SIGNIFICANT;
            let as_many = base.runs >= head.runs;
            let bound = below_bound(base.runs);
            (
                TriageVerdict::NewFlake,
                shown || (budget_spent && as_many),
                format!(
                    "fails intermittently at head ({}), never at base ({}: below {} at 95 %{})",
                    counts(&head),
                    counts(&base),
                    percent(bound),
                    if shown {
                        format!("; p = {p_worse:.3}")
                    } else {
                        String::new()
                    }
                ),
            )
        }
        (Side::Passes | Side::CleanSoFar, _) => (
            TriageVerdict::CouldNotReproduce,
            budget_spent,
            format!(
                "passed every run at head ({}): it fails in fewer than {} of runs there (95 % confidence); look at what differed in CI (environment, load, other tests){}",
                counts(&head),
                percent(below_bound(head.runs)),
                if base.failures > 0 {
                    format!("; at base it failed {} runs", counts(&base))
                } else {
                    String::new()
                }
            ),
        ),
        _ => (
            TriageVerdict::CouldNotReproduce,
            false,
            format!(
                "not settled: {} runs at head, {} at base",
                counts(&head),
                counts(&base)
            ),
        ),
    };
    // Base runs matter until base has said what it can: reliably passing, failing,
    // intermittent, absent, or clean in as many runs as head had.
    let needs_base = !settled
        && !matches!(b, Side::Absent | Side::Intermittent | Side::Fails)
        && (b != Side::Passes || base.runs < head.runs.max(RELIABLE_RUNS));
    Judgement {
        verdict,
        // Unknown at the end of the budget is as settled as it will get.
        settled: settled || budget_spent,
        new_at_head,
        evidence,
        needs_base,
    }
}

/// A test new at head, judged at head alone.
fn judge_new(head: Tally, h: Side, budget_spent: bool) -> (TriageVerdict, bool, String) {
    let counts = format!("{}/{}", head.failures, head.runs);
    match h {
        Side::Fails => (
            TriageVerdict::Regression,
            true,
            format!("new at head, where it fails every run ({counts})"),
        ),
        Side::Intermittent => (
            TriageVerdict::NewFlake,
            true,
            format!("new at head, where it fails intermittently ({counts})"),
        ),
        _ if head.failures == 0 && head.runs > 0 => (
            TriageVerdict::CouldNotReproduce,
            budget_spent,
            format!(
                "new at head, where it passed every run ({counts}): it fails in fewer than {} of runs (95 % confidence)",
                percent(below_bound(head.runs))
            ),
        ),
        _ => (
            TriageVerdict::CouldNotReproduce,
            false,
            format!("new at head, not settled ({counts})"),
        ),
    }
}

/// The rate that `runs` clean runs rule out with 95 % confidence (one-sided): the largest
/// rate p with (1 - p)^runs >= 0.05.
pub fn below_bound(runs: u32) -> f64 {
    if runs == 0 {
        return 1.0;
    }
    1.0 - 0.05f64.powf(1.0 / f64::from(runs))
}

fn percent(rate: f64) -> String {
    let pct = rate * 100.0;
    if pct >= 10.0 {
        format!("{pct:.0} %")
    } else {
        format!("{pct:.1} %")
    }
}

/// One-sided Fisher's exact test that `head` fails more often than `base`: the chance, if
/// both failed alike, of head holding at least as many of all the failures as it does.
pub fn fisher_greater(head: Tally, base: Tally) -> f64 {
    let (n1, n2) = (head.runs, base.runs);
    let k = head.failures + base.failures;
    if n1 == 0 || n2 == 0 || k == 0 {
        return 1.0;
    }
    let ln_choose = |n: u32, r: u32| -> f64 {
        (1..=r)
            .map(|i| f64::from(n - r + i).ln() - f64::from(i).ln())
            .sum()
    };
    let total = ln_choose(n1 + n2, k);
    (head.failures..=k.min(n1))
        .filter(|&x| k - x <= n2)
        .map(|x| (ln_choose(n1, x) + ln_choose(n2, k - x) - total).exp())
        .sum::<f64>()
        .min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(failures: u32, runs: u32) -> Tally {
        Tally {
            runs,
            failures,
            absent: 0,
        }
    }

    #[test]
    fn a_test_broken_by_the_change_is_a_regression_after_six_runs_a_side() {
        let j = judge(tally(5, 5), tally(0, 5), false);
        assert!(!j.settled, "{j:?}");
        let j = judge(tally(6, 6), tally(0, 6), false);
        assert_eq!(j.verdict, TriageVerdict::Regression);
        assert!(j.settled);
        assert_eq!(
            j.evidence,
            "fails every run at head (6/6), passes every run at base (0/6)"
        );
    }

    #[test]
    fn flaky_on_both_sides_is_settled_at_once() {
        let j = judge(tally(1, 4), tally(2, 4), false);
        assert_eq!(j.verdict, TriageVerdict::FlakyBefore);
        assert!(j.settled);
        assert!(!j.needs_base);
    }

    #[test]
    fn a_new_flake_needs_significance_or_the_budget_with_base_clean_as_long() {
        let j = judge(tally(2, 10), tally(0, 10), false);
        assert_eq!(j.verdict, TriageVerdict::NewFlake);
        assert!(!j.settled, "p for 2/10 vs 0/10 is 0.24: {j:?}");
        let j = judge(tally(2, 10), tally(0, 10), true);
        assert!(j.settled);
        let j = judge(tally(8, 16), tally(0, 16), false);
        assert!(j.settled, "p for 8/16 vs 0/16 is 0.001: {j:?}");
    }

    #[test]
    fn passing_at_head_is_could_not_reproduce_only_when_the_budget_is_spent() {
        let j = judge(tally(0, 40), tally(0, 40), false);
        assert!(!j.settled);
        let j = judge(tally(0, 130), tally(0, 130), true);
        assert_eq!(j.verdict, TriageVerdict::CouldNotReproduce);
        assert!(j.settled);
        assert!(
            j.evidence.contains("fewer than 2.3 % of runs"),
            "{}",
            j.evidence
        );
    }

    #[test]
    fn broken_on_both_sides_and_new_tests() {
        let j = judge(tally(6, 6), tally(6, 6), false);
        assert_eq!(j.verdict, TriageVerdict::BrokenAtBase);
        let absent = Tally {
            runs: 0,
            failures: 0,
            absent: 3,
        };
        let j = judge(tally(6, 6), absent, false);
        assert_eq!(j.verdict, TriageVerdict::Regression);
        assert!(j.new_at_head && j.settled);
        let j = judge(tally(2, 5), absent, false);
        assert_eq!(j.verdict, TriageVerdict::NewFlake);
        let j = judge(absent, absent, false);
        assert_eq!(j.verdict, TriageVerdict::NotFound);
    }

    #[test]
    fn failing_always_at_head_and_sometimes_at_base_is_a_regression_only_if_significant() {
        let j = judge(tally(6, 6), tally(5, 6), false);
        assert_eq!(j.verdict, TriageVerdict::FlakyBefore);
        assert!(!j.settled);
        let j = judge(tally(12, 12), tally(1, 12), false);
        assert_eq!(j.verdict, TriageVerdict::Regression);
    }

    #[test]
    fn fisher_matches_known_values() {
        // 3/3 vs 0/3: C(3,3)C(3,0)/C(6,3) = 1/20.
        assert!((fisher_greater(tally(3, 3), tally(0, 3)) - 0.05).abs() < 1e-9);
        assert_eq!(fisher_greater(tally(0, 3), tally(0, 3)), 1.0);
        assert!((below_bound(299) - 0.01).abs() < 1e-4);
    }
}

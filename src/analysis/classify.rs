//! The confirmation phase's judgement ([`classify`]): failing seeds are replayed alone
//! (nothing else running) and under load (at the job's parallelism), and what the replays
//! did says why a command or a test case failed: the seed, chance, or contention.
//! Also which seeds to replay ([`seeds_to_confirm`]).

use super::findings::{Classification, TestCaseStats};
use super::per_test::{Ignore, outcomes, run_failed};
use crate::runner::RunRecord;

/// Most failing seeds replayed per job.
pub const MAX_SEEDS: usize = 5;
/// Replays of each seed alone, and again under load, that a budget aims to allow.
pub const REPLAYS_PER_SEED: u32 = 3;
/// The smallest default budget: one seed replayed [`REPLAYS_PER_SEED`] times alone and as
/// many under load.
pub const MIN_BUDGET: u32 = 2 * REPLAYS_PER_SEED;
/// The largest default budget: what the phase replayed before it had one (5 seeds, 6 each).
pub const MAX_BUDGET: u32 = 30;
/// How unlikely a failure that recurs by chance at the job's own failure rate must be to
/// fail every replay before the default budget calls it seed-dependent.
const CHANCE: f64 = 1e-4;

/// The default most replays for a job that ran `runs` runs of which `failures` failed: a
/// tenth of the runs, but at least enough that a failure recurring by chance at that rate
/// would fail every replay with a probability below 1 in 10,000 (a seed-dependent failure
/// fails every one), within [`MIN_BUDGET`] and [`MAX_BUDGET`]. A nondeterministic failure
/// usually settles after a few replays, so the budget is mostly spent on failures that
/// keep recurring.
pub fn default_budget(runs: u32, failures: u32) -> u32 {
    let rate = f64::from(failures) / f64::from(runs.max(1));
    let telling = if rate > 0.0 && rate < 1.0 {
        (CHANCE.ln() / rate.ln()).ceil() as u32
    } else {
        MIN_BUDGET
    };
    runs.div_ceil(10).max(telling.clamp(MIN_BUDGET, MAX_BUDGET))
}

/// Whether more replays can no longer change a subject's class: once a failing seed has
/// both failed alone and passed in some replay, it is neither seed-dependent (every replay
/// fails) nor contention-dependent (no replay alone fails); it is nondeterministic for good.
pub fn settled(tally: &ReplayTally) -> bool {
    tally.alone_failures > 0
        && (tally.alone_failures < tally.alone_runs || tally.load_failures < tally.load_runs)
}

/// One replay of a failing seed.
#[derive(Debug, Clone)]
pub struct Replay {
    /// True when it ran with nothing else running; false when it ran among other runs.
    pub alone: bool,
    pub record: RunRecord,
}

/// What the replays of one subject's failing seeds did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayTally {
    pub alone_runs: u32,
    pub alone_failures: u32,
    pub load_runs: u32,
    pub load_failures: u32,
}

impl ReplayTally {
    fn add(&mut self, alone: bool, failed: bool) {
        let (runs, failures) = if alone {
            (&mut self.alone_runs, &mut self.alone_failures)
        } else {
            (&mut self.load_runs, &mut self.load_failures)
        };
        *runs += 1;
        *failures += u32::from(failed);
    }

    pub fn runs(&self) -> u32 {
        self.alone_runs + self.load_runs
    }
}

/// Why a subject (the command or a test case) failed `failures` of its `runs`:
///
/// - failed every run: `always-failing`, a real bug, no replay needed;
/// - every replay of its failing seeds failed again, alone and under load: `seed-dependent`;
/// - no replay alone failed but some under load did: `contention-dependent` (only when the
///   job ran more than one run at a time, else "alone" and "under load" are the same);
/// - anything else (replays that pass, or pass and fail): `nondeterministic`, timing,
///   concurrency or environment.
///
/// `None` when it never failed, or when it is flaky but nothing was replayed.
pub fn classify(
    failures: u32,
    runs: u32,
    tally: &ReplayTally,
    parallel: bool,
) -> Option<Classification> {
    if failures == 0 || runs == 0 {
        return None;
    }
    if failures >= runs {
        return Some(Classification::AlwaysFailing);
    }
    if tally.runs() == 0 {
        return None;
    }
    let t = tally;
    Some(
        if t.alone_failures == t.alone_runs && t.load_failures == t.load_runs {
            Classification::SeedDependent
        } else if parallel && t.alone_runs > 0 && t.alone_failures == 0 && t.load_failures > 0 {
            Classification::ContentionDependent
        } else {
            Classification::Nondeterministic
        },
    )
}

/// The replays of the command's failing seeds.
pub fn command_tally(replays: &[Replay], failing_seeds: &[u64], ignore: &Ignore) -> ReplayTally {
    let mut tally = ReplayTally::default();
    for replay in replays {
        if failing_seeds.contains(&replay.record.seed) {
            tally.add(replay.alone, run_failed(&replay.record, ignore));
        }
    }
    tally
}

/// The replays of a test case's failing seeds that ran it (a replay that crashed before
/// reaching the test says nothing about it).
pub fn test_tally(replays: &[Replay], test: &TestCaseStats, ignore: &Ignore) -> ReplayTally {
    let mut tally = ReplayTally::default();
    for replay in replays {
        if !test.failing_seeds.contains(&replay.record.seed) {
            continue;
        }
        if let Some(failure) = outcomes(&replay.record, ignore).get(test.name.as_str()) {
            tally.add(replay.alone, failure.is_some());
        }
    }
    tally
}

/// Up to [`MAX_SEEDS`] failing seeds worth replaying: the command's first failing seed if
/// it is flaky, then the first failing seed of each flaky test case (flakiest first), then
/// further failing seeds of those in turn. Nothing when nothing is flaky: an always-failing
/// command needs no confirmation.
pub fn seeds_to_confirm(
    command_failing_seeds: &[u64],
    command_flaky: bool,
    tests: &[TestCaseStats],
) -> Vec<u64> {
    let mut lists: Vec<&[u64]> = Vec::new();
    if command_flaky {
        lists.push(command_failing_seeds);
    }
    lists.extend(
        tests
            .iter()
            .filter(|t| t.verdict == crate::analysis::Verdict::Flaky)
            .map(|t| t.failing_seeds.as_slice()),
    );
    let mut seeds = Vec::new();
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    for depth in 0..longest {
        for list in &lists {
            if let Some(seed) = list.get(depth)
                && !seeds.contains(seed)
            {
                seeds.push(*seed);
                if seeds.len() == MAX_SEEDS {
                    return seeds;
                }
            }
        }
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(alone: (u32, u32), load: (u32, u32)) -> ReplayTally {
        ReplayTally {
            alone_runs: alone.0,
            alone_failures: alone.1,
            load_runs: load.0,
            load_failures: load.1,
        }
    }

    #[test]
    fn classification_follows_the_replays() {
        use Classification::*;
        let none = ReplayTally::default();
        assert_eq!(classify(0, 10, &none, true), None);
        assert_eq!(classify(10, 10, &none, true), Some(AlwaysFailing));
        assert_eq!(classify(3, 10, &none, true), None);
        assert_eq!(
            classify(3, 10, &tally((9, 9), (9, 9)), true),
            Some(SeedDependent)
        );
        assert_eq!(
            classify(3, 10, &tally((9, 4), (9, 5)), true),
            Some(Nondeterministic)
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 0)), true),
            Some(Nondeterministic)
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 2)), true),
            Some(ContentionDependent)
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 2)), false),
            Some(Nondeterministic)
        );
    }

    #[test]
    fn only_a_failure_and_a_pass_alone_or_under_load_settle_a_class() {
        assert!(settled(&tally((2, 1), (0, 0))));
        assert!(settled(&tally((1, 1), (1, 0))));
        assert!(!settled(&tally((3, 3), (3, 3))), "seed-dependent so far");
        assert!(!settled(&tally((3, 0), (3, 1))), "contention so far");
        assert!(
            !settled(&tally((1, 0), (1, 0))),
            "a later failure alone would change it"
        );
        assert!(!settled(&ReplayTally::default()));
        assert_eq!(default_budget(10, 1), MIN_BUDGET, "rare: few replays tell");
        assert_eq!(
            default_budget(12, 4),
            9,
            "a third: 9 failing replays in a row"
        );
        assert_eq!(default_budget(20, 12), 19, "60 %: 0.6^19 < 1e-4");
        assert_eq!(default_budget(20, 19), MAX_BUDGET);
        assert_eq!(default_budget(1000, 10), 100, "a tenth of the runs");
        assert_eq!(default_budget(10, 0), MIN_BUDGET);
    }

    #[test]
    fn seeds_cover_every_flaky_subject_before_repeating_one() {
        let flaky = |name: &str, seeds: &[u64]| TestCaseStats {
            name: name.into(),
            runs: 10,
            failures: seeds.len() as u32,
            failure_rate: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
            failing_seeds: seeds.to_vec(),
            verdict: crate::analysis::Verdict::Flaky,
            severity: crate::analysis::Severity::Low,
            classification: None,
            first_failure: None,
            severity_note: None,
        };
        let tests = [
            flaky("a", &[1, 2, 3]),
            flaky("b", &[4, 5]),
            flaky("c", &[1, 6]),
        ];
        assert_eq!(seeds_to_confirm(&[1, 4], true, &tests), vec![1, 4, 2, 5, 6]);
        assert!(seeds_to_confirm(&[1, 2], false, &[]).is_empty());
    }
}

//! The confirmation phase's judgement ([`classify`]): failing seeds are replayed alone
//! (nothing else running) and under load (at the job's parallelism), in fresh processes as
//! the reproduce line runs them, and what the replays did says why a command or a test case
//! failed: the seed, chance, or contention. Each class is decided by a test at [`LEVEL`],
//! and a subject whose replays do not reach it is `not-settled` rather than guessed.
//! Also which seeds to replay ([`seeds_to_confirm`]).

use super::findings::{Classification, TestCaseStats};
use super::per_test::{Ignore, outcomes, run_failed};
use super::stats::wilson;
use crate::runner::RunRecord;

/// Most failing seeds replayed per job.
pub const MAX_SEEDS: usize = 5;
/// Replays of each seed alone, and again under load, that a budget aims to allow at least.
pub const REPLAYS_PER_SEED: u32 = 3;
/// The smallest default budget: one seed replayed [`REPLAYS_PER_SEED`] times alone and as
/// many under load.
pub const MIN_BUDGET: u32 = 2 * REPLAYS_PER_SEED;
/// The largest default budget.
pub const MAX_BUDGET: u32 = 30;
/// The level each class is decided at: a failure that recurs by chance is called
/// seed-dependent, or one that fails alone as often as under load contention-dependent, in
/// at most 1 % of subjects.
pub const LEVEL: f64 = 0.01;

/// The default most replays for a job of `runs` runs whose seeds to replay cover subjects
/// failing at `rates` (one rate per seed chosen to cover a flaky subject: the highest rate
/// among the subjects that seed covers, since a frequent failure recurs by chance most
/// easily and so needs the most failing replays to be told from chance).
///
/// Per covering seed, the replays a seed-dependent failure needs to be told from chance
/// ([`telling`]); together within [`MIN_BUDGET`] and [`MAX_BUDGET`], raised to a tenth of
/// the runs when that is more, and never below one replay alone and one under load
/// (`parallel`) per covering seed, so that no flaky subject is left without replays. A
/// nondeterministic failure usually settles after a few replays, so the budget is mostly
/// spent on failures that keep recurring.
pub fn default_budget(runs: u32, rates: &[f64], parallel: bool) -> u32 {
    let telling: u32 = rates.iter().map(|&rate| telling(rate, runs)).sum();
    let per_seed = if parallel { 2 } else { 1 };
    let covering = rates.len() as u32 * per_seed;
    // Never more than twice the runs (at least MIN_BUDGET): a job of two runs, whose rate's
    // interval is nearly [0, 1], would otherwise spend the largest budget on replays that
    // cannot tell it from chance anyway.
    let most = (2 * runs).max(MIN_BUDGET);
    runs.div_ceil(10)
        .max(telling.clamp(MIN_BUDGET, MAX_BUDGET).min(most))
        .max(covering)
}

/// How many replays in a row, all failing, tell a seed-dependent failure from one that
/// recurs by chance at a subject's rate `rate` of `runs`: the rate is taken at the top of
/// its 95 % interval (the estimate may be low), and a chance failure must fail that many in
/// a row with a probability below [`LEVEL`]. 0 when the rate says nothing.
pub fn telling(rate: f64, runs: u32) -> u32 {
    if !(rate > 0.0 && rate < 1.0) || runs == 0 {
        return 0;
    }
    let failures = (rate * f64::from(runs)).round() as u32;
    let high = wilson(failures.min(runs), runs).high.min(0.999_999);
    (LEVEL.ln() / high.ln()).ceil() as u32
}

/// Whether more replays can no longer change a subject's class (see [`classify`]).
pub fn settled(failures: u32, runs: u32, tally: &ReplayTally, parallel: bool) -> bool {
    classify(failures, runs, tally, parallel)
        .is_some_and(|class| class != Classification::NotSettled)
}

/// One-sided exact test (Fisher's) that failures are rarer alone than under load, for a
/// tally with no failure alone: the chance that all the failures seen would fall among the
/// loaded replays if alone and under load failed alike.
fn contention_p(tally: &ReplayTally) -> f64 {
    let (a, l, k) = (tally.alone_runs, tally.load_runs, tally.load_failures);
    // C(l, k) / C(a + l, k) = Π_{i<k} (l - i) / (a + l - i)
    (0..k)
        .map(|i| f64::from(l - i) / f64::from(a + l - i))
        .product()
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
/// - every replay of its failing seeds failed again, more of them in a row than a failure
///   recurring by chance at the subject's rate would at [`LEVEL`] ([`telling`]):
///   `seed-dependent`;
/// - a replay alone failed and a replay passed: `nondeterministic` (a fact, not a guess: the
///   seed does not decide, and the failure does not need load);
/// - no replay alone failed, some under load did, and an exact test says that is not chance
///   at [`LEVEL`] (divided among the looks the replay loop took): `contention-dependent`
///   (only when the job ran more than one run at a time);
/// - anything else: `not-settled`.
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
    let all_failed = t.alone_failures == t.alone_runs && t.load_failures == t.load_runs;
    let rate = f64::from(failures) / f64::from(runs);
    let looks = t.alone_runs.max(1);
    Some(if all_failed {
        if t.runs() >= telling(rate, runs) {
            Classification::SeedDependent
        } else {
            Classification::NotSettled
        }
    } else if t.alone_failures > 0 {
        Classification::Nondeterministic
    } else if parallel && t.load_failures > 0 && contention_p(t) < LEVEL / f64::from(looks) {
        Classification::ContentionDependent
    } else {
        Classification::NotSettled
    })
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

/// A subject of the confirmation: the command or one flaky test case, with its failing
/// seeds (in attempt order) and its failure rate.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub failing_seeds: &'a [u64],
    pub rate: f64,
}

/// The failing seeds worth replaying ([`seeds_to_confirm`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeedChoice {
    /// Covering seeds first (see `covering`), then further failing seeds, up to
    /// [`MAX_SEEDS`] in all unless covering alone needs more.
    pub seeds: Vec<u64>,
    /// How many of `seeds`, from the front, are needed so that every flaky subject has at
    /// least one of its failing seeds replayed.
    pub covering: usize,
    /// Per covering seed, the highest failure rate among the subjects it was chosen for: what
    /// [`default_budget`] needs.
    pub rates: Vec<f64>,
}

/// The failing seeds worth replaying for `subjects` (the flaky command first if it is
/// flaky, then each flaky test case, flakiest first): first a seed per subject that no
/// earlier seed covers, picking among its failing seeds the one shared with the most other
/// uncovered subjects, so every subject gets a class from as few seeds as possible; then
/// further failing seeds of the subjects in turn, up to [`MAX_SEEDS`] in all, which the
/// budget may or may not leave room for. Nothing when nothing is flaky: an always-failing
/// command needs no confirmation.
pub fn seeds_to_confirm(subjects: &[Subject<'_>]) -> SeedChoice {
    let mut choice = SeedChoice::default();
    let mut covered = vec![false; subjects.len()];
    for (index, subject) in subjects.iter().enumerate() {
        if covered[index] {
            continue;
        }
        let reach = |seed: u64| {
            subjects
                .iter()
                .zip(&covered)
                .filter(|(s, covered)| !**covered && s.failing_seeds.contains(&seed))
                .count()
        };
        // The first of the seeds that reach the most uncovered subjects.
        let Some(seed) = subject
            .failing_seeds
            .iter()
            .copied()
            .rev()
            .max_by_key(|&seed| reach(seed))
        else {
            continue;
        };
        let mut rate: f64 = 0.0;
        for (s, covered) in subjects.iter().zip(covered.iter_mut()) {
            if !*covered && s.failing_seeds.contains(&seed) {
                *covered = true;
                rate = rate.max(s.rate);
            }
        }
        choice.seeds.push(seed);
        choice.rates.push(rate);
    }
    choice.covering = choice.seeds.len();
    let longest = subjects
        .iter()
        .map(|s| s.failing_seeds.len())
        .max()
        .unwrap_or(0);
    for depth in 0..longest {
        for subject in subjects {
            if choice.seeds.len() >= MAX_SEEDS {
                return choice;
            }
            if let Some(seed) = subject.failing_seeds.get(depth)
                && !choice.seeds.contains(seed)
            {
                choice.seeds.push(*seed);
            }
        }
    }
    choice
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
        // 3 of 10: the rate may be as high as 0.60, so 10 failing replays tell (0.6^10 < 1 %).
        assert_eq!(telling(0.3, 10), 10);
        assert_eq!(
            classify(3, 10, &tally((5, 5), (5, 5)), true),
            Some(SeedDependent)
        );
        assert_eq!(
            classify(3, 10, &tally((3, 3), (3, 3)), true),
            Some(NotSettled),
            "six failing replays in a row happen by chance at 30 %"
        );
        assert_eq!(
            classify(3, 10, &tally((9, 4), (9, 5)), true),
            Some(Nondeterministic)
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 0)), true),
            Some(NotSettled),
            "never failing again tells neither chance nor contention"
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 8)), true),
            Some(ContentionDependent)
        );
        assert_eq!(
            classify(3, 10, &tally((3, 0), (3, 1)), true),
            Some(NotSettled),
            "0 of 3 alone and 1 of 3 under load is chance"
        );
        assert_eq!(
            classify(3, 10, &tally((9, 0), (9, 8)), false),
            Some(NotSettled)
        );
    }

    #[test]
    fn only_a_decided_class_settles_the_replays() {
        assert!(settled(3, 10, &tally((2, 1), (0, 0)), true));
        assert!(settled(3, 10, &tally((1, 1), (1, 0)), true));
        assert!(
            !settled(3, 10, &tally((3, 3), (3, 3)), true),
            "seed-dependent so far"
        );
        assert!(
            !settled(3, 10, &tally((3, 0), (3, 1)), true),
            "contention so far"
        );
        assert!(
            !settled(3, 10, &tally((1, 0), (1, 0)), true),
            "a later failure alone would change it"
        );
        assert!(!settled(3, 10, &ReplayTally::default(), true));
        let budget = |runs: u32, failures: u32| {
            default_budget(runs, &[f64::from(failures) / f64::from(runs)], true)
        };
        assert_eq!(budget(10, 1), MIN_BUDGET, "rare: few replays tell");
        assert_eq!(budget(12, 4), 10, "a third, as high as 0.61: 0.61^10 < 1 %");
        assert_eq!(budget(20, 12), 19, "60 %, as high as 0.78: 0.78^19 < 1 %");
        assert_eq!(budget(20, 19), MAX_BUDGET);
        assert_eq!(budget(1000, 10), 100, "a tenth of the runs");
        assert_eq!(default_budget(10, &[], true), MIN_BUDGET);
    }

    /// Issue 20: a test that fails at random (a coin, p = 0.5 and 0.2) is called
    /// seed-dependent or contention-dependent in at most about [`LEVEL`] of jobs. Each
    /// simulated job runs 40 runs, then the replay loop as the pipeline runs it: rounds of
    /// one replay alone and one under load, until the class is settled or the default
    /// budget is spent.
    #[test]
    fn a_coin_is_rarely_called_seed_or_contention_dependent() {
        use rand::{Rng, SeedableRng};
        let mut coin = rand::rngs::StdRng::seed_from_u64(20);
        // A coin at 0.2 needs more replays to fail alone once: more of its jobs end
        // not-settled, which is what the budget honestly allows.
        for (p, most_decided) in [(0.5, 0.75), (0.2, 0.4)] {
            let jobs = 4000;
            let mut wrong = 0;
            let mut decided = 0;
            for _ in 0..jobs {
                let runs = 40;
                let failures = (0..runs).filter(|_| coin.random_bool(p)).count() as u32;
                if failures == 0 || failures == runs {
                    continue;
                }
                let rate = f64::from(failures) / f64::from(runs);
                let budget = default_budget(runs, &[rate], true);
                let mut t = ReplayTally::default();
                while t.runs() < budget && !settled(failures, runs, &t, true) {
                    t.add(true, coin.random_bool(p));
                    if t.runs() < budget && !settled(failures, runs, &t, true) {
                        t.add(false, coin.random_bool(p));
                    }
                }
                match classify(failures, runs, &t, true) {
                    Some(Classification::SeedDependent | Classification::ContentionDependent) => {
                        wrong += 1
                    }
                    Some(Classification::Nondeterministic) => decided += 1,
                    _ => {}
                }
            }
            // 1 % of 4,000 is 40; the bound leaves room for the sampling error of the check.
            assert!(wrong <= 60, "p = {p}: {wrong} of {jobs} jobs misclassified");
            assert!(
                f64::from(decided) > most_decided * f64::from(jobs),
                "p = {p}: only {decided} called nondeterministic"
            );
        }
    }

    /// Issue 10: two flaky tests on different seeds each get their telling replays; many
    /// flaky tests each get at least one replay alone and one under load, even past
    /// [`MAX_BUDGET`].
    #[test]
    fn the_default_budget_covers_every_covering_seed() {
        // 40 runs, tests failing 5 and 4 times (as high as 26 % and 23 %): 4 + 4 replays
        // tell, more than a tenth.
        assert_eq!(default_budget(40, &[0.125, 0.1], true), 8);
        assert_eq!(default_budget(40, &[0.125, 0.1], false), 8);
        let many = [0.05; 20];
        assert_eq!(default_budget(100, &many, true), 40);
        assert_eq!(default_budget(100, &many, false), MAX_BUDGET);
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
            classname: None,
            failing_attempts: Vec::new(),
            mean_seconds: None,
        };
        let tests = [
            flaky("a", &[1, 2, 3]),
            flaky("b", &[4, 5]),
            flaky("c", &[1, 6]),
        ];
        let subjects = |command: &'static [u64]| {
            std::iter::once(command)
                .filter(|c| !c.is_empty())
                .chain(tests.iter().map(|t| t.failing_seeds.as_slice()))
                .map(|failing_seeds| Subject {
                    failing_seeds,
                    rate: failing_seeds.len() as f64 / 10.0,
                })
                .collect::<Vec<_>>()
        };
        let choice = seeds_to_confirm(&subjects(&[1, 2, 3, 4, 5, 6]));
        assert_eq!(choice.seeds, vec![1, 4, 2, 5, 6]);
        assert_eq!(choice.covering, 2, "seed 1 covers a and c, 4 covers b");
        assert_eq!(
            choice.rates,
            vec![0.6, 0.2],
            "the command's 0.6 is the hardest to tell"
        );
        assert_eq!(seeds_to_confirm(&[]), SeedChoice::default());
    }

    /// Issue 10: every flaky test case gets a seed of its own when no seed is shared, even
    /// past [`MAX_SEEDS`]; a seed shared by several is picked over one that is not.
    #[test]
    fn covering_seeds_reach_every_flaky_subject() {
        let lists: Vec<Vec<u64>> = (0..7).map(|i| vec![10 * i + 1, 10 * i + 2]).collect();
        let subjects: Vec<Subject<'_>> = lists
            .iter()
            .map(|l| Subject {
                failing_seeds: l,
                rate: 0.1,
            })
            .collect();
        let choice = seeds_to_confirm(&subjects);
        assert_eq!(choice.covering, 7);
        assert_eq!(choice.seeds, vec![1, 11, 21, 31, 41, 51, 61]);
        let a = [1, 2, 3];
        let b = [3, 9];
        let shared = seeds_to_confirm(&[
            Subject {
                failing_seeds: &a,
                rate: 0.3,
            },
            Subject {
                failing_seeds: &b,
                rate: 0.2,
            },
        ]);
        assert_eq!(&shared.seeds[..shared.covering], &[3]);
        assert_eq!(shared.rates, vec![0.3]);
    }
}

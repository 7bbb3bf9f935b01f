//! [`Summary::merge`]: the summaries of the shards of one request (`submit --shards K`:
//! the same repository, commit and command, disjoint seeds) joined into one summary of the
//! same shape as a single job's. Counts are summed; every rate, interval, verdict and
//! severity is recomputed from the summed counts by the code a single job uses
//! ([`Figures`], [`classify`]), never averaged.

use std::collections::BTreeMap;

use super::{Classification, ConfirmationReport, Summary, TestCaseStats};
use crate::analysis::classify::{ReplayTally, classify};
use crate::analysis::per_test::{Figures, sort_flakiest_first};
use crate::analysis::{Verdict, stats};
use crate::config::Thresholds;
use crate::framework::InstallStatus;

/// Why shards could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("there are no shard summaries to merge")]
    NoShards,
}

impl Summary {
    /// Joins shard summaries, given in shard order (shard `i` ran the `i`-th slice of the
    /// seeds), into one:
    ///
    /// - runs, failures, timeouts, runs requested and saved are summed; `results` are
    ///   concatenated and their `attempt`s renumbered 0, 1, 2, … in that order;
    /// - rate, interval, verdict, severity and its note come from the summed counts, in the
    ///   severity bands the shards report (`thresholds`);
    /// - per test case, runs, failures and failing seeds are summed, its failing attempts
    ///   renumbered as its runs are, and its figures recomputed the same way;
    /// - confirmation evidence is summed (seeds replayed, failures alone and under load)
    ///   and the command's classification is recomputed from it; a test case keeps the
    ///   classification its shards agree on, and is `nondeterministic` when they disagree;
    /// - `reproduce` replays the first failing seed of the merged runs; `first_error` is
    ///   kept only when the merged runs all failed;
    /// - the install report is the worst one (a failed install shows); warnings are joined
    ///   without repeats, plus one when the shards tested different commits;
    /// - a shard stopped by a failed install makes the whole `install-failed`;
    /// - a shard's `junit_xml` is dropped: it covers only that shard's runs.
    pub fn merge(shards: Vec<Summary>) -> Result<Summary, MergeError> {
        let install_failed = shards.iter().any(|s| s.verdict == Verdict::InstallFailed);
        let mut shards = shards.into_iter();
        let mut merged = shards.next().ok_or(MergeError::NoShards)?;
        renumber_failing_attempts(&mut merged.tests, &merged.results, 0);
        for mut shard in shards {
            let offset = merged.results.len() as u32;
            renumber_failing_attempts(&mut shard.tests, &shard.results, offset);
            merged.absorb(shard);
        }
        merged.recompute();
        if install_failed {
            merged.mark_install_failed();
        }
        Ok(merged)
    }

    /// Adds one more shard's counts and lists; [`Summary::recompute`] fixes the figures
    /// once all are in.
    fn absorb(&mut self, shard: Summary) {
        self.total_runs += shard.total_runs;
        self.failures += shard.failures;
        self.timeouts += shard.timeouts;
        self.runs_requested += shard.runs_requested;
        self.runs_saved += shard.runs_saved;
        self.results.extend(shard.results);
        self.failing_seeds.extend(shard.failing_seeds);
        if self.reproduce.is_none() {
            self.reproduce = shard.reproduce;
        }
        if self.first_error.is_none() {
            self.first_error = shard.first_error;
        }
        self.tests = merge_tests(std::mem::take(&mut self.tests), shard.tests);
        self.command_failure = match (self.command_failure.take(), shard.command_failure) {
            (Some(mut a), Some(b)) => {
                a.runs += b.runs;
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.confirmation = match (self.confirmation.take(), shard.confirmation) {
            (Some(mut a), Some(b)) => {
                a.seeds.extend(b.seeds);
                a.alone_runs += b.alone_runs;
                a.alone_failures += b.alone_failures;
                a.load_runs += b.load_runs;
                a.load_failures += b.load_failures;
                a.budget += b.budget;
                Some(a)
            }
            (a, b) => a.or(b),
        };
        for finding in shard.order_dependence {
            if !self.order_dependence.iter().any(|f| f.test == finding.test) {
                self.order_dependence.push(finding);
            }
        }
        if install_rank(shard.install.status) > install_rank(self.install.status) {
            self.install = shard.install;
        }
        if shard.commit.is_some() && shard.commit != self.commit {
            let note = format!(
                "the shards tested different commits ({} and {}): the ref moved while they started, so the figures mix both",
                self.commit.as_deref().unwrap_or("unknown"),
                shard.commit.as_deref().unwrap_or("unknown")
            );
            self.warnings.push(note);
        }
        self.warnings.extend(shard.warnings);
        self.thresholds = self.thresholds.or(shard.thresholds);
        self.cancelled |= shard.cancelled;
        self.duration_seconds = self.duration_seconds.max(shard.duration_seconds);
    }

    /// Recomputes every figure from the summed counts.
    fn recompute(&mut self) {
        let thresholds = match self.thresholds {
            Some(thresholds) => thresholds,
            None => {
                self.warnings.push(
                    "the shards did not report their severity thresholds; the default bands were used"
                        .into(),
                );
                Thresholds::default()
            }
        };
        self.thresholds = Some(thresholds);
        for (attempt, result) in self.results.iter_mut().enumerate() {
            result.attempt = attempt as u32;
        }
        self.set_figures(Figures::of(self.failures, self.total_runs, &thresholds));
        let tally = self
            .confirmation
            .as_ref()
            .map(replay_tally)
            .unwrap_or_default();
        self.classification =
            classify(self.failures, self.total_runs, &tally, self.parallelism > 1);
        if self.verdict != Verdict::AlwaysFailing {
            self.first_error = None;
        }
        for test in &mut self.tests {
            let figures = Figures::of(test.failures, test.runs, &thresholds);
            test.failure_rate = figures.rate;
            test.ci_low = figures.ci_low;
            test.ci_high = figures.ci_high;
            test.verdict = figures.verdict;
            test.severity = figures.severity;
            test.severity_note = figures.severity_note;
            test.classification = match test.verdict {
                Verdict::AlwaysFailing => Some(Classification::AlwaysFailing),
                Verdict::Flaky => test
                    .classification
                    .filter(|c| *c != Classification::AlwaysFailing),
                Verdict::Stable | Verdict::Inconclusive | Verdict::InstallFailed => None,
            };
        }
        sort_flakiest_first(&mut self.tests);
        let mut seen = std::collections::HashSet::new();
        self.warnings.retain(|warning| seen.insert(warning.clone()));
        self.temp_dir = None;
        self.run_id = None;
        // A shard's report covers its own runs; `submit --junit` renders the merged one.
        self.junit_xml = None;
    }
}

fn replay_tally(confirmation: &ConfirmationReport) -> ReplayTally {
    ReplayTally {
        alone_runs: confirmation.alone_runs,
        alone_failures: confirmation.alone_failures,
        load_runs: confirmation.load_runs,
        load_failures: confirmation.load_failures,
    }
}

/// Sums two shards' per-test figures by name. A classification only one shard could make
/// (the other saw no failure, or replayed nothing) is kept; two different ones become
/// `nondeterministic`, since the replays of one seed then behaved unlike another's. A
/// shard's `always-failing` says nothing once another shard saw the test pass, so it
/// yields to the other's.
fn merge_tests(mine: Vec<TestCaseStats>, theirs: Vec<TestCaseStats>) -> Vec<TestCaseStats> {
    let mut by_name: BTreeMap<String, TestCaseStats> =
        mine.into_iter().map(|t| (t.name.clone(), t)).collect();
    for test in theirs {
        match by_name.get_mut(&test.name) {
            None => {
                by_name.insert(test.name.clone(), test);
            }
            Some(kept) => {
                kept.mean_seconds = match (kept.mean_seconds, test.mean_seconds) {
                    (Some(a), Some(b)) if kept.runs + test.runs > 0 => {
                        let weighted = a * f64::from(kept.runs) + b * f64::from(test.runs);
                        Some(stats::round3(weighted / f64::from(kept.runs + test.runs)))
                    }
                    (a, b) => a.or(b),
                };
                kept.runs += test.runs;
                kept.failures += test.failures;
                for seed in test.failing_seeds {
                    if !kept.failing_seeds.contains(&seed) {
                        kept.failing_seeds.push(seed);
                    }
                }
                kept.failing_attempts.extend(test.failing_attempts);
                if kept.classname.is_none() {
                    kept.classname = test.classname;
                }
                if kept.first_failure.is_none() {
                    kept.first_failure = test.first_failure;
                }
                kept.classification =
                    merge_classification(kept.classification, test.classification);
            }
        }
    }
    by_name.into_values().collect()
}

/// Gives a shard's per-test `failing_attempts` the numbers their runs get in the merged
/// `results` (the shard's position in them plus `offset`, the runs of the shards before
/// it), as [`Summary::recompute`] renumbers those results.
fn renumber_failing_attempts(
    tests: &mut [TestCaseStats],
    results: &[super::RunResult],
    offset: u32,
) {
    let merged: BTreeMap<u32, u32> = results
        .iter()
        .enumerate()
        .map(|(position, result)| (result.attempt, offset + position as u32))
        .collect();
    for test in tests {
        for attempt in &mut test.failing_attempts {
            if let Some(number) = merged.get(attempt) {
                *attempt = *number;
            }
        }
    }
}

fn merge_classification(
    a: Option<Classification>,
    b: Option<Classification>,
) -> Option<Classification> {
    use Classification::AlwaysFailing;
    match (a, b) {
        (a, b) if a == b => a,
        (x, None) | (None, x) => x,
        (Some(AlwaysFailing), x) | (x, Some(AlwaysFailing)) => x,
        _ => Some(Classification::Nondeterministic),
    }
}

/// How much an install report says: a failure outranks work done, which outranks a cache
/// hit, which outranks nothing to do.
fn install_rank(status: InstallStatus) -> u8 {
    match status {
        InstallStatus::Skipped | InstallStatus::Disabled => 0,
        InstallStatus::Cached => 1,
        InstallStatus::Installed => 2,
        InstallStatus::Failed => 3,
    }
}

#[cfg(test)]
mod tests;

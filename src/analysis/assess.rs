//! [`Assessment`]: a job's runs judged as a whole: which runs count as failed (ignored test
//! cases excused), per-test figures, the first error of an always-failing command, which
//! seeds the confirmation phase should replay, and the classification it leads to. It then
//! fills those parts of the [`Summary`].

use super::Verdict;
use super::classify::{self, Replay, ReplayTally};
use super::per_test::{Figures, Ignore, outcomes, run_failed, test_case_stats};
use super::test_result::{TestReport, cut};
use crate::config::{Settings, Thresholds};
use crate::runner::RunRecord;
use crate::summary::{Classification, ConfirmationReport, Summary, TestCaseStats};

#[derive(Debug, Clone)]
pub struct Assessment {
    ignore: Ignore,
    thresholds: Thresholds,
    parallel: bool,
    /// Each run's seed and whether it counts as failed, in attempt order.
    runs: Vec<(u64, bool)>,
    excused: u32,
    tests: Vec<TestCaseStats>,
    first_error: Option<String>,
    classification: Option<Classification>,
    confirmation: Option<ConfirmationReport>,
    warnings: Vec<String>,
}

impl Assessment {
    /// Judges the first phase's runs (`records`, in attempt order). Without confirmation,
    /// only `always-failing` can be told; [`Assessment::confirm`] adds the rest.
    pub fn new(records: &[RunRecord], settings: &Settings) -> Assessment {
        let ignore = Ignore::new(&settings.ignore_patterns);
        let runs: Vec<(u64, bool)> = records
            .iter()
            .map(|r| (r.seed, run_failed(r, &ignore)))
            .collect();
        let excused = records
            .iter()
            .zip(&runs)
            .filter(|(r, (_, failed))| !r.outcome.passed() && !failed)
            .count() as u32;
        let tests = test_case_stats(
            records,
            &ignore,
            &settings.thresholds,
            settings.max_error_length,
        );
        let failures = runs.iter().filter(|(_, failed)| *failed).count();
        let first_error = (failures > 0 && failures == runs.len())
            .then(|| first_error(records, &ignore, settings.max_error_length))
            .flatten();
        let mut assessment = Assessment {
            ignore,
            thresholds: settings.thresholds,
            parallel: settings.parallelism > 1,
            runs,
            excused,
            tests,
            first_error,
            classification: None,
            confirmation: None,
            warnings: report_warnings(records),
        };
        assessment.confirm(&[], &[]);
        assessment
    }

    fn failing_seeds(&self) -> Vec<u64> {
        let mut seeds: Vec<u64> = Vec::new();
        for (seed, failed) in &self.runs {
            if *failed && !seeds.contains(seed) {
                seeds.push(*seed);
            }
        }
        seeds
    }

    /// Seeds of runs that passed, to keep the machine busy while failing seeds are replayed
    /// under load.
    pub fn passing_seeds(&self) -> Vec<u64> {
        self.runs
            .iter()
            .filter(|(_, failed)| !failed)
            .map(|(seed, _)| *seed)
            .collect()
    }

    fn failures(&self) -> u32 {
        self.runs.iter().filter(|(_, failed)| *failed).count() as u32
    }

    /// Failing seeds worth replaying; empty when nothing is flaky.
    pub fn seeds_to_confirm(&self) -> Vec<u64> {
        let flaky = Verdict::of(self.failures(), self.runs.len() as u32) == Verdict::Flaky;
        classify::seeds_to_confirm(&self.failing_seeds(), flaky, &self.tests)
    }

    /// Classifies the command and every test case from the replays of `seeds`.
    pub fn confirm(&mut self, seeds: &[u64], replays: &[Replay]) {
        let failing = self.failing_seeds();
        let tally = classify::command_tally(replays, &failing, &self.ignore);
        self.classification = classify::classify(
            self.failures(),
            self.runs.len() as u32,
            &tally,
            self.parallel,
        );
        for test in &mut self.tests {
            let tally = classify::test_tally(replays, test, &self.ignore);
            test.classification =
                classify::classify(test.failures, test.runs, &tally, self.parallel);
        }
        if !seeds.is_empty() {
            let mut all = ReplayTally::default();
            for replay in replays {
                let failed = run_failed(&replay.record, &self.ignore);
                if replay.alone {
                    all.alone_runs += 1;
                    all.alone_failures += u32::from(failed);
                } else {
                    all.load_runs += 1;
                    all.load_failures += u32::from(failed);
                }
            }
            self.confirmation = Some(ConfirmationReport {
                seeds: seeds.to_vec(),
                alone_runs: all.alone_runs,
                alone_failures: all.alone_failures,
                load_runs: all.load_runs,
                load_failures: all.load_failures,
            });
        }
    }

    /// Per-test figures and classifications so far.
    pub fn tests(&self) -> &[TestCaseStats] {
        &self.tests
    }

    /// Marks the test named `name` order-dependent (its failing order fails again, the file
    /// order passes). The command's `seed-dependent` becomes `order-dependent` too once no
    /// test is left seed-dependent: the order was what the seed decided.
    pub fn mark_order_dependent(&mut self, name: &str) {
        for test in self.tests.iter_mut().filter(|t| t.name == name) {
            test.classification = Some(Classification::OrderDependent);
        }
        let seed_dependent = self
            .tests
            .iter()
            .any(|t| t.classification == Some(Classification::SeedDependent));
        if self.classification == Some(Classification::SeedDependent) && !seed_dependent {
            self.classification = Some(Classification::OrderDependent);
        }
    }

    /// Adds a sentence to the summary's warnings.
    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Fills the summary: figures over the runs that count as failed, per-test stats,
    /// classification, notes, and the reproduce line (`reproduce` makes one for a seed).
    pub fn apply(self, summary: &mut Summary, reproduce: impl Fn(u64) -> String) {
        let runs = self.runs.len() as u32;
        let failures = self.failures();
        let figures = Figures::of(failures, runs, &self.thresholds);
        let failing_seeds: Vec<u64> = self
            .runs
            .iter()
            .filter(|(_, failed)| *failed)
            .map(|(seed, _)| *seed)
            .collect();
        summary.failures = failures;
        summary.repro_rate = figures.rate;
        summary.ci_low = figures.ci_low;
        summary.ci_high = figures.ci_high;
        summary.verdict = figures.verdict;
        summary.severity = figures.severity;
        summary.severity_note = figures.severity_note;
        summary.reproduce = failing_seeds.first().map(|seed| reproduce(*seed));
        summary.failing_seeds = failing_seeds;
        summary.tests = self.tests;
        summary.classification = self.classification;
        summary.first_error = self.first_error;
        summary.confirmation = self.confirmation;
        if self.excused > 0 {
            summary.warnings.push(format!(
                "{} failing run(s) failed only in test cases matched by ignore_patterns and count as passed",
                self.excused
            ));
        }
        summary.warnings.extend(self.warnings);
    }
}

/// The first line that explains the first counted failure: its first failed test and that
/// test's message when there is a report, else the last line the run printed on stderr
/// (or stdout), where errors usually end up.
fn first_error(records: &[RunRecord], ignore: &Ignore, max: usize) -> Option<String> {
    let record = records.iter().find(|r| run_failed(r, ignore))?;
    let from_report = outcomes(record, ignore)
        .into_iter()
        .find_map(|(name, failure)| {
            failure.map(|message| match message {
                Some(message) => format!("{name}: {message}"),
                None => format!("{name} failed"),
            })
        });
    let last_line = |text: &str| {
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    from_report
        .or_else(|| last_line(&record.stderr.text))
        .or_else(|| last_line(&record.stdout.text))
        .or_else(|| Some(format!("the command failed ({:?})", record.outcome)))
        .map(|line| cut(&line, max))
}

/// Warnings for runs whose report was expected but missing or unreadable.
fn report_warnings(records: &[RunRecord]) -> Vec<String> {
    let missing = records
        .iter()
        .filter(|r| r.tests == TestReport::Missing)
        .count();
    let unreadable: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.tests {
            TestReport::Unreadable(reason) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let mut warnings = Vec::new();
    if missing > 0 {
        warnings.push(format!(
            "{missing} of {} run(s) wrote no test report; their results count for the whole command only",
            records.len()
        ));
    }
    if let Some(first) = unreadable.first() {
        warnings.push(format!(
            "{} run(s) wrote a test report that could not be read ({first}); their results count for the whole command only",
            unreadable.len()
        ));
    }
    warnings
}

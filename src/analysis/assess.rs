//! [`Assessment`]: a job's runs judged as a whole: which runs count as failed (ignored test
//! cases excused), per-test figures, the first error of an always-failing command, which
//! seeds the confirmation phase should replay, and the classification it leads to. What it
//! concludes ([`Conclusion`]) is what the summary reports.

use std::time::Duration;

use super::Verdict;
use super::classify::{self, REPLAYS_PER_SEED, Replay, ReplayTally};
use super::command_failure::{self, FailureKind};
use super::findings::{Classification, CommandFailure, ConfirmationReport, TestCaseStats};
use super::per_test::{
    Figures, Ignore, RunJudgement, judge, outcomes, run_failed, test_case_stats,
};
use crate::config::{Settings, Thresholds};
use crate::framework::results::test_result::{TestReport, TestStatus, cut};
use crate::runner::{RunOutcome, RunRecord};

#[derive(Debug, Clone)]
pub struct Assessment {
    ignore: Ignore,
    thresholds: Thresholds,
    parallel: bool,
    /// Each run's seed and whether it counts as failed, in attempt order.
    runs: Vec<(u64, bool)>,
    /// The distinct seeds of the runs that count as failed, in attempt order.
    failing_seeds: Vec<u64>,
    excused: u32,
    tests: Vec<TestCaseStats>,
    first_error: Option<String>,
    classification: Option<Classification>,
    confirmation: Option<ConfirmationReport>,
    warnings: Vec<String>,
    command_failure: Option<CommandFailure>,
    /// Set when every run failed before any test ran, for a reason that is not a flake.
    setup_failure: Option<Classification>,
    /// Seeds whose first-phase run hit the timeout.
    hung_seeds: Vec<u64>,
    /// Test cases that were still running when a run hit the timeout.
    hung_tests: Vec<String>,
    /// The longest run that finished on its own.
    slowest_finished: Duration,
    /// The shortest run that passed (that of any finished run when none passed).
    quickest_filler: Duration,
}

/// The longest a loaded round's replays wait for its fillers ([`Assessment::filler_lead`]):
/// long runs mostly hold what they share from their start, and a replay round should not
/// cost much more than the replays themselves.
pub const MAX_FILLER_LEAD: Duration = Duration::from_secs(2);

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
        let every_run = failures > 0 && failures == runs.len();
        let first_error = every_run
            .then(|| first_error(records, &ignore, settings.max_error_length))
            .flatten();
        let setup_failure = every_run.then(|| setup_failure(records)).flatten();
        let hung_seeds: Vec<u64> = records
            .iter()
            .filter(|r| r.outcome == RunOutcome::TimedOut)
            .map(|r| r.seed)
            .collect();
        let mut hung_tests: Vec<String> = Vec::new();
        for record in records {
            for result in record.tests.results().unwrap_or_default() {
                if result.status == TestStatus::TimedOut && !hung_tests.contains(&result.name) {
                    hung_tests.push(result.name.clone());
                }
            }
        }
        let slowest_finished = records
            .iter()
            .filter(|r| !matches!(r.outcome, RunOutcome::TimedOut | RunOutcome::Cancelled))
            .map(|r| r.duration)
            .max()
            .unwrap_or_default();
        let finished = |passed_only: bool| {
            records
                .iter()
                .zip(&runs)
                .filter(|(r, _)| !matches!(r.outcome, RunOutcome::TimedOut | RunOutcome::Cancelled))
                .filter(|(_, (_, failed))| !(passed_only && *failed))
                .map(|(r, _)| r.duration)
                .min()
        };
        let quickest_filler = finished(true)
            .or_else(|| finished(false))
            .unwrap_or_default();
        let command_failure = command_failure(records, &ignore, settings.max_error_length);
        let mut failing_seeds: Vec<u64> = Vec::new();
        for (seed, failed) in &runs {
            if *failed && !failing_seeds.contains(seed) {
                failing_seeds.push(*seed);
            }
        }
        let mut assessment = Assessment {
            ignore,
            thresholds: settings.thresholds,
            parallel: settings.parallelism > 1,
            runs,
            failing_seeds,
            excused,
            tests,
            first_error,
            classification: None,
            confirmation: None,
            warnings: report_warnings(records),
            command_failure,
            setup_failure,
            hung_seeds,
            hung_tests,
            slowest_finished,
            quickest_filler,
        };
        assessment.confirm(&[], &[], 0);
        assessment
    }

    /// How long the fillers of a loaded round run before its replays start: a quarter of the
    /// quickest filler's first-phase run, at most [`MAX_FILLER_LEAD`]. A failing run of the
    /// first phase started in the middle of other runs (a slot frees when a run ends), so
    /// they already held their locks, ports and files; a replay started with the fillers
    /// instead races them to those, and passes whenever it wins. A quarter keeps the replay
    /// well inside the fillers' runs, so it never ends up running alone.
    pub fn filler_lead(&self) -> Duration {
        (self.quickest_filler / 4).min(MAX_FILLER_LEAD)
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

    /// The subjects of the confirmation: the command if it is flaky, then each flaky test
    /// case (flakiest first).
    fn subjects(&self) -> Vec<(classify::Subject<'_>, Option<&TestCaseStats>)> {
        let runs = self.runs.len() as u32;
        let command_flaky = Verdict::of(self.failures(), runs) == Verdict::Flaky;
        let failing = self.failing_seeds.as_slice();
        let command = command_flaky.then_some((
            classify::Subject {
                failing_seeds: failing,
                rate: f64::from(self.failures()) / f64::from(runs.max(1)),
            },
            None,
        ));
        let tests = self
            .tests
            .iter()
            .filter(|t| t.verdict == Verdict::Flaky)
            .map(|t| {
                let subject = classify::Subject {
                    failing_seeds: &t.failing_seeds,
                    rate: f64::from(t.failures) / f64::from(t.runs.max(1)),
                };
                (subject, Some(t))
            });
        command.into_iter().chain(tests).collect()
    }

    /// Failing seeds worth replaying, covering seeds first; empty when nothing is flaky.
    pub fn seeds_to_confirm(&self) -> classify::SeedChoice {
        let subjects: Vec<classify::Subject<'_>> =
            self.subjects().into_iter().map(|(s, _)| s).collect();
        classify::seeds_to_confirm(&subjects)
    }

    /// The budget of replays when the job sets none: see [`classify::default_budget`].
    pub fn default_budget(&self) -> u32 {
        let choice = self.seeds_to_confirm();
        classify::default_budget(self.runs.len() as u32, &choice.rates, self.parallel)
    }

    /// The replays one covering seed needs to tell its subjects' failures from chance: the
    /// most [`classify::telling`] asks among the rates it was chosen for.
    pub fn replays_per_seed(&self, rates: &[f64]) -> u32 {
        let runs = self.runs.len() as u32;
        rates
            .iter()
            .map(|&rate| classify::telling(rate, runs))
            .max()
            .unwrap_or(0)
    }

    /// Which of `seeds` are still worth replaying after `replays`: those that failed for a
    /// subject (the flaky command, or a flaky test case) whose class more replays can still
    /// change (see [`classify::settled`]). Empty once every class is settled.
    pub fn seeds_to_replay(&self, seeds: &[u64], replays: &[Replay]) -> Vec<u64> {
        let open: Vec<&[u64]> = self
            .subjects()
            .into_iter()
            .filter(|(subject, test)| {
                let (tally, failures, runs) = match test {
                    Some(test) => (
                        classify::test_tally(replays, test, &self.ignore),
                        test.failures,
                        test.runs,
                    ),
                    None => (
                        classify::command_tally(replays, subject.failing_seeds, &self.ignore),
                        self.failures(),
                        self.runs.len() as u32,
                    ),
                };
                !classify::settled(failures, runs, &tally, self.parallel)
            })
            .map(|(subject, _)| subject.failing_seeds)
            .collect();
        seeds
            .iter()
            .copied()
            .filter(|seed| open.iter().any(|failing| failing.contains(seed)))
            .collect()
    }

    /// Classifies the command and every test case from the replays of `seeds`, which ran
    /// within `budget` replays.
    pub fn confirm(&mut self, seeds: &[u64], replays: &[Replay], budget: u32) {
        let tally = classify::command_tally(replays, &self.failing_seeds, &self.ignore);
        self.classification = classify::classify(
            self.failures(),
            self.runs.len() as u32,
            &tally,
            self.parallel,
        );
        if self.setup_failure.is_some() {
            self.classification = self.setup_failure;
        }
        let covered = self.flakes_cover_every_failure();
        let hung_again = replays.iter().any(|r| {
            r.record.outcome == RunOutcome::TimedOut && self.hung_seeds.contains(&r.record.seed)
        });
        if hung_again {
            self.classification = Some(Classification::Timeout);
        }
        for test in &mut self.tests {
            let tally = classify::test_tally(replays, test, &self.ignore);
            test.classification =
                classify::classify(test.failures, test.runs, &tally, self.parallel);
            if self.hung_tests.contains(&test.name) {
                test.classification = Some(Classification::Timeout);
            }
        }
        // Every run failed, each in some flaky test: the command is as flaky as they are, and
        // the flakiest one's class is the command's.
        if covered && self.classification == Some(Classification::AlwaysFailing) {
            self.classification = self
                .tests
                .iter()
                .filter(|t| t.verdict == Verdict::Flaky)
                .max_by(|a, b| a.failure_rate.total_cmp(&b.failure_rate))
                .and_then(|t| t.classification);
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
                budget,
            });
        }
    }

    /// The timeout for the confirmation's replays: the job's own, unless a seed to replay
    /// hung, where a replay gets a share of it so that replaying the hang
    /// ([`REPLAYS_PER_SEED`] alone and again under load) costs about one timeout, not one
    /// per replay. Never below twice the slowest run that finished, so a replay that would
    /// finish is not cut short.
    pub fn replay_timeout(&self, full: Duration) -> Duration {
        let seeds = self.seeds_to_confirm().seeds;
        if !seeds.iter().any(|s| self.hung_seeds.contains(s)) {
            return full;
        }
        let share = full / (2 * REPLAYS_PER_SEED);
        share.max(self.slowest_finished * 2).min(full)
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
        let open = |class: Option<Classification>| {
            matches!(
                class,
                Some(Classification::SeedDependent | Classification::NotSettled)
            )
        };
        let seed_dependent = self.tests.iter().any(|t| open(t.classification));
        if open(self.classification) && !seed_dependent {
            self.classification = Some(Classification::OrderDependent);
        }
    }

    /// True when every run failed, yet no test case failed in every run and each failing
    /// run's seed failed some flaky test case: flaky tests that together cover every run
    /// (three tests failing half the time leave one run in eight green), not a broken
    /// command. A run that failed outside its test cases, or a test broken in every run,
    /// keeps the command `always-failing`.
    fn flakes_cover_every_failure(&self) -> bool {
        let every_run = !self.runs.is_empty() && self.runs.iter().all(|(_, failed)| *failed);
        let flaky = self.tests.iter().any(|t| t.verdict == Verdict::Flaky);
        let none_broken = self
            .tests
            .iter()
            .all(|t| t.verdict != Verdict::AlwaysFailing);
        let attributed = self.runs.iter().all(|(seed, _)| {
            self.tests
                .iter()
                .any(|t| t.verdict == Verdict::Flaky && t.failing_seeds.contains(seed))
        });
        every_run
            && flaky
            && none_broken
            && attributed
            && self.setup_failure.is_none()
            && self.command_failure.is_none()
    }

    /// Adds a sentence to the summary's warnings.
    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// What the assessment concludes, for the summary to report ([`Conclusion`]): figures
    /// over the runs that count as failed, per-test stats, classification and notes.
    pub fn conclude(self) -> Conclusion {
        let runs = self.runs.len() as u32;
        let failures = self.failures();
        let mut figures = Figures::of(failures, runs, &self.thresholds);
        let covered = self.flakes_cover_every_failure();
        if covered {
            figures.verdict = Verdict::Flaky;
        }
        let failing_seeds: Vec<u64> = self
            .runs
            .iter()
            .filter(|(_, failed)| *failed)
            .map(|(seed, _)| *seed)
            .collect();
        let mut warnings = Vec::new();
        if covered {
            warnings.push(
                "every run failed, but no test case failed in every run: each run met one of the flaky test cases, so the command is flaky, not broken".to_string(),
            );
        }
        if self.excused > 0 {
            warnings.push(format!(
                "{} failing run(s) failed only in test cases matched by ignore_patterns and count as passed",
                self.excused
            ));
        }
        warnings.extend(self.warnings);
        Conclusion {
            failures,
            figures,
            failing_seeds,
            tests: self.tests,
            classification: self.classification,
            first_error: self.first_error,
            confirmation: self.confirmation,
            command_failure: self.command_failure,
            warnings,
        }
    }
}

/// A job's runs judged as a whole, in the terms the summary reports them: built by
/// [`Assessment::conclude`], copied into the output by `Summary::apply`. Defined here, where
/// it is computed, so analysis never names the summary above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conclusion {
    /// Runs that count as failed (failures only in ignored test cases excused).
    pub failures: u32,
    /// Rate, interval, verdict and severity over those runs.
    pub figures: Figures,
    /// The seeds of the runs that count as failed, in attempt order.
    pub failing_seeds: Vec<u64>,
    pub tests: Vec<TestCaseStats>,
    pub classification: Option<Classification>,
    pub first_error: Option<String>,
    pub confirmation: Option<ConfirmationReport>,
    pub command_failure: Option<CommandFailure>,
    /// Sentences for the summary's warnings, after the job's own.
    pub warnings: Vec<String>,
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
    from_report
        .or_else(|| command_failure::cause(&record.stdout.text, &record.stderr.text).1)
        .or_else(|| Some(format!("the command {}", record.outcome)))
        .map(|line| cut(&line, max))
}

/// The runs that failed beyond their test cases, when some run's tests all passed while its
/// command failed: the cause read from the first such run, and how many runs show it (those
/// runs, plus runs with a failing test whose output names the same kind of cause).
fn command_failure(records: &[RunRecord], ignore: &Ignore, max: usize) -> Option<CommandFailure> {
    let first = records
        .iter()
        .find(|r| judge(r, ignore) == RunJudgement::CommandOnly)?;
    let (kind, cause) = command_failure::cause(&first.stdout.text, &first.stderr.text);
    let shows = |r: &&RunRecord| match judge(r, ignore) {
        RunJudgement::CommandOnly => true,
        RunJudgement::Failed => {
            kind != FailureKind::Other
                && matches!(r.outcome, RunOutcome::Failed { .. })
                && command_failure::cause(&r.stdout.text, &r.stderr.text).0 == kind
        }
        RunJudgement::Passed | RunJudgement::Excused => false,
    };
    let runs = records.iter().filter(shows).count() as u32;
    let cause = cause.unwrap_or_else(|| format!("the command {}", first.outcome));
    Some(CommandFailure {
        runs,
        kind,
        cause: cut(&cause, max),
    })
}

/// When every run failed before any test ran and the output says the tests could not be
/// loaded, a dependency is missing or the runner refused its options: that, as the job's
/// classification.
fn setup_failure(records: &[RunRecord]) -> Option<Classification> {
    let mut kinds = records.iter().map(|r| {
        let ran_tests = r
            .tests
            .results()
            .is_some_and(|results| results.iter().any(|t| !t.is_collection_error()));
        if ran_tests || !matches!(r.outcome, RunOutcome::Failed { .. }) {
            return None;
        }
        match command_failure::cause(&r.stdout.text, &r.stderr.text).0 {
            FailureKind::CollectionError => Some(Classification::CollectionError),
            FailureKind::MissingDependency => Some(Classification::MissingDependency),
            FailureKind::UsageError => Some(Classification::UsageError),
            FailureKind::CoverageGate | FailureKind::Other => None,
        }
    });
    let first = kinds.next().flatten()?;
    kinds.all(|k| k == Some(first)).then_some(first)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileConfig;
    use crate::framework::results::test_result::TestResult;
    use crate::job::{JobInput, Knobs, RepoPolicy};
    use crate::runner::Captured;

    fn settings() -> Settings {
        let job = JobInput {
            repo: "https://example.com/o/r".into(),
            knobs: Knobs {
                test_command: Some("pytest tests".into()),
                parallelism: Some(2),
                ..Knobs::default()
            },
            ..JobInput::default()
        }
        .validate(RepoPolicy { allow_local: false })
        .expect("a valid job");
        Settings::resolve(&job, &FileConfig::default()).expect("settings")
    }

    /// A run of tests `a` and `b`, `b` failing when `b_fails`; the command exits 1 anyway
    /// when `gate` (a coverage gate printed on stdout).
    fn run(seed: u64, b_fails: bool, gate: bool, outcome: Option<RunOutcome>) -> RunRecord {
        let status = |failed: bool| {
            if failed {
                TestStatus::Failed
            } else {
                TestStatus::Passed
            }
        };
        RunRecord {
            attempt: seed as u32,
            seed,
            outcome: outcome.unwrap_or(if b_fails || gate {
                RunOutcome::Failed { exit_code: 1 }
            } else {
                RunOutcome::Passed
            }),
            duration: Duration::from_secs(1),
            hash_seed: None,
            server: None,
            stdout: Captured {
                text: if gate {
                    "FAIL Required test coverage of 90% not reached. Total coverage: 40.00%\n"
                        .into()
                } else {
                    String::new()
                },
                truncated_bytes: 0,
            },
            stderr: Captured::default(),
            tests: TestReport::Parsed(vec![
                TestResult {
                    classname: None,
                    duration_ms: None,
                    name: "a".into(),
                    status: TestStatus::Passed,
                    message: None,
                },
                TestResult {
                    classname: None,
                    duration_ms: None,
                    name: "b".into(),
                    status: status(b_fails),
                    message: None,
                },
            ]),
        }
    }

    #[test]
    fn a_gate_failing_every_run_leaves_the_verdict_to_the_tests() {
        let records: Vec<RunRecord> = (1..=6).map(|s| run(s, s == 3, true, None)).collect();
        let conclusion = Assessment::new(&records, &settings()).conclude();
        assert_eq!(conclusion.figures.verdict, Verdict::Flaky);
        assert_eq!(conclusion.failing_seeds, vec![3]);
        let failure = conclusion.command_failure.expect("a command failure");
        assert_eq!((failure.runs, failure.kind), (6, FailureKind::CoverageGate));
        assert!(
            failure
                .cause
                .starts_with("FAIL Required test coverage of 90%")
        );
        assert_eq!(conclusion.first_error, None);
    }

    /// A run of tests `a` and `b` where `failed` says which fail.
    fn run_failing(seed: u64, failed: &[&str]) -> RunRecord {
        let mut record = run(
            seed,
            false,
            false,
            Some(RunOutcome::Failed { exit_code: 1 }),
        );
        record.tests = TestReport::Parsed(
            ["a", "b"]
                .iter()
                .map(|name| TestResult {
                    classname: None,
                    duration_ms: None,
                    name: name.to_string(),
                    status: if failed.contains(name) {
                        TestStatus::Failed
                    } else {
                        TestStatus::Passed
                    },
                    message: None,
                })
                .collect(),
        );
        record
    }

    #[test]
    fn flaky_tests_that_together_fail_every_run_make_a_flaky_command() {
        // `a` fails in runs 1-3, `b` in runs 3-6: every run fails, no test in every run.
        let records: Vec<RunRecord> = (1..=6)
            .map(|s| match s {
                1 | 2 => run_failing(s, &["a"]),
                3 => run_failing(s, &["a", "b"]),
                _ => run_failing(s, &["b"]),
            })
            .collect();
        let conclusion = Assessment::new(&records, &settings()).conclude();
        assert_eq!(conclusion.figures.verdict, Verdict::Flaky);
        assert_ne!(
            conclusion.classification,
            Some(Classification::AlwaysFailing)
        );
        assert!(conclusion.warnings[0].starts_with("every run failed, but no test case"));

        // With `b` broken (failing every run), the command stays always-failing.
        let records: Vec<RunRecord> = (1..=6)
            .map(|s| run_failing(s, if s < 3 { &["a", "b"] } else { &["b"] }))
            .collect();
        let conclusion = Assessment::new(&records, &settings()).conclude();
        assert_eq!(conclusion.figures.verdict, Verdict::AlwaysFailing);
        assert_eq!(
            conclusion.classification,
            Some(Classification::AlwaysFailing)
        );
    }

    #[test]
    fn a_hanging_seed_gets_a_shorter_replay_timeout() {
        let full = Duration::from_secs(60);
        let mut records: Vec<RunRecord> = (1..=5).map(|s| run(s, false, false, None)).collect();
        assert_eq!(
            Assessment::new(&records, &settings()).replay_timeout(full),
            full
        );
        records.push(run(6, true, false, None));
        assert_eq!(
            Assessment::new(&records, &settings()).replay_timeout(full),
            full
        );
        records.push(run(7, false, false, Some(RunOutcome::TimedOut)));
        let assessment = Assessment::new(&records, &settings());
        assert_eq!(assessment.replay_timeout(full), Duration::from_secs(10));
        // Never below twice the slowest run that finished.
        assert_eq!(
            assessment.replay_timeout(Duration::from_secs(6)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn fillers_lead_by_a_quarter_of_the_quickest_passing_run_and_at_most_two_seconds() {
        let timed = |seed: u64, fails: bool, secs: u64| RunRecord {
            duration: Duration::from_secs(secs),
            ..run(seed, fails, false, None)
        };
        let records = [timed(1, false, 8), timed(2, true, 1), timed(3, false, 4)];
        assert_eq!(
            Assessment::new(&records, &settings()).filler_lead(),
            Duration::from_secs(1)
        );
        let slow = [timed(1, false, 40), timed(2, true, 1)];
        assert_eq!(
            Assessment::new(&slow, &settings()).filler_lead(),
            MAX_FILLER_LEAD
        );
        // No run passed: the quickest run that finished.
        let failing = [timed(1, true, 2), timed(2, true, 4)];
        assert_eq!(
            Assessment::new(&failing, &settings()).filler_lead(),
            Duration::from_millis(500)
        );
    }
}

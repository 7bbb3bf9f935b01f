//! Per-test attribution: run records with their reports turned into one
//! [`TestCaseStats`] per test case ([`test_case_stats`]), flakiest first, with the
//! config's `ignore_patterns` ([`Ignore`]) kept out.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::findings::TestCaseStats;
use super::{Severity, Verdict, severity, stats};
use crate::config::Thresholds;
use crate::framework::results::test_result::{TestReport, TestResult, TestStatus, cut};
use crate::runner::RunRecord;

/// Test cases whose results do not count (`ignore_patterns`, globs over test names).
#[derive(Debug, Clone)]
pub struct Ignore(Option<GlobSet>);

impl Ignore {
    /// Patterns were checked when the config was read; one that still fails to compile is
    /// dropped rather than failing the job.
    pub fn new(patterns: &[String]) -> Ignore {
        if patterns.is_empty() {
            return Ignore(None);
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            if let Ok(glob) = Glob::new(pattern) {
                builder.add(glob);
            }
        }
        Ignore(builder.build().ok())
    }

    pub fn matches(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|set| set.is_match(name))
    }
}

/// One run's verdict on each test case it reported: `Some(message)` for a failure. A name
/// reported twice in one run (a retry, two files) failed if any report of it failed.
/// Skipped and ignored cases are left out, and so are the stand-ins a runner reports for a
/// file it could not collect (that is the command failing, not a test).
pub fn outcomes<'a>(
    record: &'a RunRecord,
    ignore: &Ignore,
) -> BTreeMap<&'a str, Option<Option<&'a str>>> {
    let mut map: BTreeMap<&str, Option<Option<&str>>> = BTreeMap::new();
    for result in tests_of(record) {
        if result.status == TestStatus::Skipped || ignore.matches(&result.name) {
            continue;
        }
        let failure = result.status.failed().then_some(result.message.as_deref());
        let slot = map.entry(result.name.as_str()).or_insert(None);
        if slot.is_none() {
            *slot = failure;
        }
    }
    map
}

/// The run's test cases, without collection stand-ins.
fn tests_of(record: &RunRecord) -> impl Iterator<Item = &TestResult> {
    record
        .tests
        .results()
        .unwrap_or_default()
        .iter()
        .filter(|r| !r.is_collection_error())
}

/// What one run counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunJudgement {
    Passed,
    /// A test case failed, the run hung or crashed, or it reported no test at all.
    Failed,
    /// Failed only in test cases matched by `ignore_patterns`.
    Excused,
    /// Its test cases passed but the command exited non-zero (a coverage gate, a plugin,
    /// something after the tests): a command failure, reported beside the tests.
    CommandOnly,
}

/// How `record` counts. A run that timed out or was killed by a signal always fails; so
/// does a failed run with no per-test report, or whose report names no test.
pub fn judge(record: &RunRecord, ignore: &Ignore) -> RunJudgement {
    if record.outcome.passed() {
        return RunJudgement::Passed;
    }
    if record.tests.results().is_none()
        || !matches!(record.outcome, crate::runner::RunOutcome::Failed { .. })
    {
        return RunJudgement::Failed;
    }
    let mut any_test = false;
    let mut any_failed = false;
    for result in tests_of(record) {
        any_test |= result.status != TestStatus::Skipped;
        if result.status.failed() {
            if !ignore.matches(&result.name) {
                return RunJudgement::Failed;
            }
            any_failed = true;
        }
    }
    match (any_failed, any_test) {
        (true, _) => RunJudgement::Excused,
        (false, true) => RunJudgement::CommandOnly,
        (false, false) => RunJudgement::Failed,
    }
}

/// True when the run counts as failed: it did not pass, and its failure is not entirely
/// explained by ignored test cases, nor by a command failure outside passing tests. A
/// failed run whose report names no test (a crash before the tests, a timeout) still counts.
pub fn run_failed(record: &RunRecord, ignore: &Ignore) -> bool {
    judge(record, ignore) == RunJudgement::Failed
}

/// A known test a run does not name passed in that run when its report is read from the
/// console (which lists failures, not every pass) and the run finished: it passed, or it
/// named a failure of its own.
fn passes_unnamed(record: &RunRecord) -> bool {
    match &record.tests {
        TestReport::Console(results) => {
            record.outcome.passed()
                || (matches!(record.outcome, crate::runner::RunOutcome::Failed { .. })
                    && results.iter().any(|r| r.status.failed()))
        }
        _ => false,
    }
}

#[derive(Default)]
struct Tally<'a> {
    runs: u32,
    failures: u32,
    failing_seeds: Vec<u64>,
    failing_attempts: Vec<u32>,
    first_failure: Option<&'a str>,
    classname: Option<&'a str>,
    /// The runner's times summed, and how many runs gave one.
    duration_ms: u64,
    timed_runs: u32,
}

/// Figures per test case across `records` (in attempt order). Classification is left
/// empty: the confirmation phase fills it.
pub fn test_case_stats(
    records: &[RunRecord],
    ignore: &Ignore,
    thresholds: &Thresholds,
    max_error_length: usize,
) -> Vec<TestCaseStats> {
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for record in records {
        for (name, _) in outcomes(record, ignore) {
            tallies.entry(name).or_default();
        }
        for result in tests_of(record) {
            let Some(tally) = tallies.get_mut(result.name.as_str()) else {
                continue;
            };
            if let Some(classname) = &result.classname {
                tally.classname.get_or_insert(classname);
            }
            if let Some(ms) = result.duration_ms
                && result.status != TestStatus::Skipped
            {
                tally.duration_ms = tally.duration_ms.saturating_add(ms);
                tally.timed_runs += 1;
            }
        }
    }
    let known: Vec<&str> = tallies.keys().copied().collect();
    for record in records {
        let named = outcomes(record, ignore);
        if passes_unnamed(record) {
            for name in known.iter().copied().filter(|n| !named.contains_key(n)) {
                tallies.entry(name).or_default().runs += 1;
            }
        }
        for (name, failure) in named {
            let tally = tallies.entry(name).or_default();
            tally.runs += 1;
            if let Some(message) = failure {
                tally.failures += 1;
                if !tally.failing_seeds.contains(&record.seed) {
                    tally.failing_seeds.push(record.seed);
                }
                tally.failing_attempts.push(record.attempt);
                if tally.first_failure.is_none() {
                    tally.first_failure = message;
                }
            }
        }
    }
    let mut stats: Vec<TestCaseStats> = tallies
        .into_iter()
        .map(|(name, tally)| {
            let figures = Figures::of(tally.failures, tally.runs, thresholds);
            TestCaseStats {
                name: name.to_string(),
                runs: tally.runs,
                failures: tally.failures,
                failure_rate: figures.rate,
                ci_low: figures.ci_low,
                ci_high: figures.ci_high,
                failing_seeds: tally.failing_seeds,
                verdict: figures.verdict,
                severity: figures.severity,
                classification: None,
                first_failure: tally.first_failure.map(|m| cut(m, max_error_length)),
                severity_note: figures.severity_note,
                classname: tally.classname.map(str::to_string),
                failing_attempts: tally.failing_attempts,
                mean_seconds: (tally.timed_runs > 0).then(|| {
                    stats::round3(tally.duration_ms as f64 / 1000.0 / f64::from(tally.timed_runs))
                }),
            }
        })
        .collect();
    stats.sort_by(flakiest_first);
    stats
}

/// What `failures` out of `runs` say, as every summary reports it (the whole command or
/// one test case): the rate and its 95 % Wilson interval rounded to three decimals, the
/// verdict, the severity band and the note when the interval spans bands. One function so
/// a job, a test case and a merge of shards compute them the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub verdict: Verdict,
    pub severity: Severity,
    pub severity_note: Option<String>,
}

impl Figures {
    pub fn of(failures: u32, runs: u32, thresholds: &Thresholds) -> Figures {
        let rate = if runs == 0 {
            0.0
        } else {
            f64::from(failures) / f64::from(runs)
        };
        let interval = stats::wilson(failures, runs);
        Figures {
            rate: stats::round3(rate),
            ci_low: stats::round3(interval.low),
            ci_high: stats::round3(interval.high),
            verdict: Verdict::of(failures, runs),
            severity: Severity::of(rate, thresholds),
            severity_note: (failures > 0)
                .then(|| severity::note(interval, thresholds))
                .flatten(),
        }
    }
}

/// Sorts test cases the way summaries list them: flakiest first.
pub fn sort_flakiest_first(tests: &mut [TestCaseStats]) {
    tests.sort_by(flakiest_first);
}

/// Flaky cases by falling failure rate, then always-failing ones, then the rest by name.
fn flakiest_first(a: &TestCaseStats, b: &TestCaseStats) -> std::cmp::Ordering {
    let rank = |t: &TestCaseStats| match t.verdict {
        Verdict::Flaky => 0,
        Verdict::AlwaysFailing => 1,
        Verdict::Stable => 2,
        Verdict::Inconclusive | Verdict::InstallFailed => 3,
    };
    rank(a)
        .cmp(&rank(b))
        .then(b.failure_rate.total_cmp(&a.failure_rate))
        .then_with(|| a.name.cmp(&b.name))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::framework::results::test_result::{TestReport, TestResult};
    use crate::runner::{Captured, RunOutcome};

    fn record(attempt: u32, seed: u64, tests: &[(&str, TestStatus)]) -> RunRecord {
        let failed = tests.iter().any(|(_, s)| *s == TestStatus::Failed);
        RunRecord {
            attempt,
            seed,
            outcome: if failed {
                RunOutcome::Failed { exit_code: 1 }
            } else {
                RunOutcome::Passed
            },
            duration: Duration::from_millis(1),
            hash_seed: None,
            server: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            tests: TestReport::Parsed(
                tests
                    .iter()
                    .map(|(name, status)| TestResult {
                        classname: None,
                        duration_ms: None,
                        name: name.to_string(),
                        status: *status,
                        message: (*status == TestStatus::Failed)
                            .then(|| format!("{name} broke at seed {seed}")),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn counts_per_test_and_sorts_flakiest_first() {
        use TestStatus::*;
        let records = vec![
            record(
                0,
                10,
                &[("a", Passed), ("b", Failed), ("c", Failed), ("s", Skipped)],
            ),
            record(1, 11, &[("a", Passed), ("b", Passed), ("c", Failed)]),
            record(
                2,
                12,
                &[("a", Passed), ("b", Failed), ("c", Failed), ("b", Passed)],
            ),
            record(3, 13, &[("a", Passed), ("b", Passed), ("c", Failed)]),
        ];
        let stats = test_case_stats(&records, &Ignore::new(&[]), &Thresholds::default(), 12);
        let names: Vec<&str> = stats.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        let b = &stats[0];
        assert_eq!((b.runs, b.failures, b.verdict), (4, 2, Verdict::Flaky));
        assert_eq!(b.failing_seeds, vec![10, 12]);
        assert_eq!(b.failing_attempts, vec![0, 2]);
        assert_eq!(b.first_failure.as_deref(), Some("b broke at …"));
        assert!(b.ci_low < 0.5 && 0.5 < b.ci_high);
        assert_eq!(stats[1].verdict, Verdict::AlwaysFailing);
        assert_eq!(stats[2].verdict, Verdict::Stable);
    }

    #[test]
    fn ignored_tests_are_left_out_and_excuse_their_runs() {
        use TestStatus::*;
        let records = vec![
            record(0, 1, &[("keep", Passed), ("known_bad::x", Failed)]),
            record(1, 2, &[("keep", Failed), ("known_bad::x", Failed)]),
        ];
        let ignore = Ignore::new(&["known_bad::*".to_string()]);
        let stats = test_case_stats(&records, &ignore, &Thresholds::default(), 200);
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].name, "keep");
        assert!(!run_failed(&records[0], &ignore));
        assert!(run_failed(&records[1], &ignore));
        assert!(run_failed(&records[0], &Ignore::new(&[])));
    }

    /// The JUnit report's `time` of a case: the runner's own time, averaged over the runs.
    #[test]
    fn the_runners_times_are_averaged_and_its_classname_kept() {
        let mut records = vec![
            record(0, 1, &[("p.q::a", TestStatus::Passed)]),
            record(1, 2, &[("p.q::a", TestStatus::Failed)]),
        ];
        for (record, ms) in records.iter_mut().zip([100, 300]) {
            for result in record.tests.results_mut().expect("results") {
                result.duration_ms = Some(ms);
                result.classname = Some("p.q".into());
            }
        }
        let stats = test_case_stats(&records, &Ignore::new(&[]), &Thresholds::default(), 200);
        assert_eq!(stats[0].mean_seconds, Some(0.2));
        assert_eq!(stats[0].classname.as_deref(), Some("p.q"));
        assert_eq!(stats[0].failing_attempts, vec![1]);
    }

    #[test]
    fn a_failed_run_without_a_failed_test_still_counts() {
        let mut crashed = record(0, 1, &[("a", TestStatus::Passed)]);
        crashed.outcome = RunOutcome::TimedOut;
        assert!(run_failed(&crashed, &Ignore::new(&["*".to_string()])));
    }
}

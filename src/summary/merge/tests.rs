//! Shards built the way a worker builds a job's summary (records, `Summary::build`, the
//! assessment), merged, and compared with one job over all the runs.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::analysis::Severity;
use crate::analysis::assess::Assessment;
use crate::config::{FileConfig, Settings};
use crate::framework::results::test_result::{TestReport, TestResult, TestStatus};
use crate::framework::{Framework, InstallReport};
use crate::job::{JobInput, Knobs, RepoPolicy};
use crate::runner::{Captured, RunOutcome, RunRecord};
use crate::summary::JobFacts;

/// Test `a` fails for seeds divisible by 3, `b` for seeds divisible by 4, `c` never.
fn record(attempt: u32, seed: u64) -> RunRecord {
    let status = |failed: bool| {
        if failed {
            TestStatus::Failed
        } else {
            TestStatus::Passed
        }
    };
    let cases = [
        ("a", seed.is_multiple_of(3)),
        ("b", seed.is_multiple_of(4)),
        ("c", false),
    ];
    let failed = cases.iter().any(|(_, f)| *f);
    RunRecord {
        attempt,
        seed,
        outcome: if failed {
            RunOutcome::Failed { exit_code: 1 }
        } else {
            RunOutcome::Passed
        },
        duration: Duration::from_millis(5),
        hash_seed: None,
        server: None,
        stdout: Captured::default(),
        stderr: Captured::default(),
        tests: TestReport::Parsed(
            cases
                .iter()
                .map(|(name, f)| TestResult {
                    classname: None,
                    duration_ms: None,
                    name: name.to_string(),
                    status: status(*f),
                    message: f.then(|| format!("{name} failed for seed {seed}")),
                })
                .collect(),
        ),
    }
}

fn settings(seeds: &[u64], thresholds: Option<&str>) -> Settings {
    let job = JobInput {
        repo: "https://example.com/o/r".into(),
        knobs: Knobs {
            test_command: Some("pytest tests".into()),
            parallelism: Some(2),
            ..Knobs::default()
        },
        seeds: Some(seeds.to_vec()),
        ..JobInput::default()
    }
    .validate(RepoPolicy { allow_local: false })
    .expect("a valid job");
    let file = match thresholds {
        Some(yaml) => FileConfig::parse(yaml).expect("valid config"),
        None => FileConfig::default(),
    };
    Settings::resolve(&job, &file).expect("settings")
}

/// One job's summary over `seeds`, as `detect()` makes it (without confirmation).
fn job(seeds: &[u64], commit: &str, thresholds: Option<&str>) -> Summary {
    let settings = settings(seeds, thresholds);
    let records: Vec<RunRecord> = seeds
        .iter()
        .enumerate()
        .map(|(i, seed)| record(i as u32, *seed))
        .collect();
    let assessment = Assessment::new(&records, &settings);
    let env = BTreeMap::new();
    let meta = Default::default();
    let mut summary = Summary::build(
        JobFacts {
            settings: &settings,
            framework: Framework::Python,
            install: InstallReport::new(InstallStatus::Skipped, Framework::Python, None),
            repo: "https://example.com/o/r".into(),
            git_ref: None,
            commit: Some(commit.into()),
            meta: &meta,
            env: &env,
            warnings: Vec::new(),
            duration_seconds: 1.0,
        },
        records,
    );
    summary.apply(assessment.conclude(), |seed| {
        format!("TEST_SEED={seed} pytest tests")
    });
    summary
}

#[test]
fn merged_shards_report_what_one_job_over_all_runs_reports() {
    let all: Vec<u64> = (1..=12).collect();
    let whole = job(&all, "abc", None);
    let shards = all.chunks(4).map(|seeds| job(seeds, "abc", None)).collect();
    let merged = Summary::merge(shards).expect("three shards");

    assert_eq!(merged.total_runs, 12);
    assert_eq!(merged.failures, whole.failures);
    assert_eq!(merged.failing_seeds, vec![3, 4, 6, 8, 9, 12]);
    assert_eq!(merged.failing_seeds, whole.failing_seeds);
    assert_eq!(
        (merged.repro_rate, merged.ci_low, merged.ci_high),
        (whole.repro_rate, whole.ci_low, whole.ci_high)
    );
    assert_eq!(
        (merged.verdict, merged.severity),
        (whole.verdict, whole.severity)
    );
    assert_eq!(merged.severity_note, whole.severity_note);
    assert_eq!(merged.tests, whole.tests);
    assert_eq!(
        merged.reproduce.as_deref(),
        Some("TEST_SEED=3 pytest tests")
    );
    let attempts: Vec<u32> = merged.results.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, (0..12).collect::<Vec<u32>>());
    let seeds: Vec<u64> = merged.results.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, all);
    // The per-test figures are not any shard's: shard 1 saw `a` fail 1 of 4 runs.
    let a = merged.tests.iter().find(|t| t.name == "a").expect("test a");
    assert_eq!((a.runs, a.failures), (12, 4));
    assert_eq!(a.failing_seeds, vec![3, 6, 9, 12]);
    // Each shard numbered its runs from 0; the merged attempts are the runs' new numbers.
    assert_eq!(a.failing_attempts, vec![2, 5, 8, 11]);
}

#[test]
fn the_shards_thresholds_place_the_merged_rate() {
    let strict =
        Some("severity_thresholds:\n  low: 0.01\n  medium: 0.05\n  high: 0.12\n  critical: 0.9\n");
    let seeds: Vec<u64> = vec![1, 2, 3, 5, 7, 10, 11, 13];
    // One failure (seed 3) in 8 runs: 12.5 %, medium by default, high here.
    let shards = seeds.chunks(4).map(|s| job(s, "abc", strict)).collect();
    let merged = Summary::merge(shards).expect("two shards");
    assert_eq!(merged.failures, 1);
    assert_eq!(merged.severity, Severity::High);
    let default_bands =
        Summary::merge(seeds.chunks(4).map(|s| job(s, "abc", None)).collect()).expect("two shards");
    assert_eq!(default_bands.severity, Severity::Medium);
}

#[test]
fn confirmation_evidence_is_summed_and_judged_again() {
    let mut first = job(&[3, 5], "abc", None);
    let mut second = job(&[6, 7], "abc", None);
    // Shard 1 saw seed 3 fail on every replay; shard 2 saw seed 6 fail only under load.
    first.confirmation = Some(ConfirmationReport {
        seeds: vec![3],
        alone_runs: 3,
        alone_failures: 3,
        load_runs: 3,
        load_failures: 3,
        budget: 6,
    });
    first.classification = Some(Classification::SeedDependent);
    second.confirmation = Some(ConfirmationReport {
        seeds: vec![6],
        alone_runs: 3,
        alone_failures: 0,
        load_runs: 3,
        load_failures: 1,
        budget: 6,
    });
    second.classification = Some(Classification::ContentionDependent);
    let merged = Summary::merge(vec![first, second]).expect("two shards");
    let confirmation = merged.confirmation.expect("evidence kept");
    assert_eq!(confirmation.seeds, vec![3, 6]);
    assert_eq!(
        (confirmation.alone_runs, confirmation.alone_failures),
        (6, 3)
    );
    assert_eq!((confirmation.load_runs, confirmation.load_failures), (6, 4));
    assert_eq!(
        merged.classification,
        Some(Classification::Nondeterministic)
    );
}

#[test]
fn a_test_always_failing_in_one_shard_takes_the_others_classification() {
    // Shard 1 runs only seeds where `a` fails; shard 2 has `a` both passing and failing.
    let mut first = job(&[3, 6], "abc", None);
    let mut second = job(&[9, 10], "abc", None);
    let a = |s: &mut Summary| {
        s.tests
            .iter_mut()
            .find(|t| t.name == "a")
            .expect("test a")
            .classification
    };
    assert_eq!(a(&mut first), Some(Classification::AlwaysFailing));
    for test in &mut second.tests {
        if test.name == "a" {
            test.classification = Some(Classification::SeedDependent);
        }
    }
    let mut merged = Summary::merge(vec![first, second]).expect("two shards");
    assert_eq!(a(&mut merged), Some(Classification::SeedDependent));
    let test = merged.tests.iter().find(|t| t.name == "a").expect("a");
    assert_eq!(
        (test.runs, test.failures, test.verdict),
        (4, 3, Verdict::Flaky)
    );
}

#[test]
fn shards_of_different_commits_are_merged_with_a_warning() {
    let merged =
        Summary::merge(vec![job(&[1], "abc", None), job(&[2], "def", None)]).expect("merged");
    assert!(
        merged
            .warnings
            .iter()
            .any(|w| w.contains("different commits (abc and def)")),
        "{:?}",
        merged.warnings
    );
}

#[test]
fn nothing_to_merge_is_an_error() {
    assert!(matches!(
        Summary::merge(Vec::new()),
        Err(MergeError::NoShards)
    ));
}

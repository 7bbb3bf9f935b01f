//! Shared by the history and dashboard tests: real jobs through `detect()` on small local
//! fixture repositories whose command fails for seeds chosen by the test, and summaries
//! derived from them.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flaky_detector::analysis::{Severity, Verdict};
use flaky_detector::history::Store;
use flaky_detector::summary::TestCaseStats;
use flaky_detector::{Deps, Events, JobInput, Knobs, RepoPolicy, Summary, detect};
use tokio_util::sync::CancellationToken;

/// Operator settings that keep everything inside `dir`.
pub fn deps(dir: &Path, history: Option<Arc<Store>>) -> Deps {
    let (work, cache) = (dir.join("work"), dir.join("cache"));
    std::fs::create_dir_all(&work).expect("the work dir can be made");
    std::fs::create_dir_all(&cache).expect("the cache dir can be made");
    Deps {
        history,
        ..deps_in(&work, &cache)
    }
}

/// Operator settings with job scratch directories in `work` and the dependency cache in
/// `cache` (both existing), no git token and no history, whatever the environment says.
pub fn deps_in(work: &Path, cache: &Path) -> Deps {
    Deps {
        work_dir: work.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        git_token: None,
        history: None,
        ..Deps::from_env()
    }
}

/// A plain directory standing in for a repository (copied by the pipeline).
pub fn fixture_repo(dir: &Path, name: &str) -> PathBuf {
    let repo = dir.join(name);
    std::fs::create_dir_all(&repo).expect("the fixture dir can be made");
    std::fs::write(repo.join("README"), format!("fixture {name}\n")).expect("writable");
    repo
}

/// A `sh -c` command that fails, printing `message` to stderr, exactly when the seed's last
/// digit is one of `digits` (`""`: never fails). Keyed on the seed, so which runs fail is
/// known in advance.
pub fn command_failing_on_digits(digits: &str, message: &str) -> String {
    if digits.is_empty() {
        return "sh -c 'echo ok $TEST_SEED'".to_string();
    }
    format!(
        "sh -c 'echo running seed $TEST_SEED; case $TEST_SEED in *[{digits}]) echo \"{message} $TEST_SEED\" >&2; exit 1;; esac'"
    )
}

/// Runs one job through the real pipeline with explicit seeds.
pub async fn real_job(deps: &Deps, repo: &Path, command: &str, seeds: &[u64]) -> Summary {
    let input = JobInput {
        repo: repo.display().to_string(),
        knobs: Knobs {
            test_command: Some(command.to_string()),
            runs: Some(seeds.len() as u32),
            parallelism: Some(4),
            ..Knobs::default()
        },
        seeds: Some(seeds.to_vec()),
        ..JobInput::default()
    };
    let job = input
        .validate(RepoPolicy { allow_local: true })
        .expect("the fixture job is valid");
    detect(job, deps, &Events::none(), &CancellationToken::new())
        .await
        .expect("the fixture job runs")
}

/// Per-test figures as the per-test stage would give them.
pub fn test_case(name: &str, runs: u32, failing_seeds: &[u64]) -> TestCaseStats {
    let failures = failing_seeds.len() as u32;
    let rate = f64::from(failures) / f64::from(runs);
    let interval = flaky_detector::analysis::wilson(failures, runs);
    TestCaseStats {
        name: name.to_string(),
        runs,
        failures,
        failure_rate: rate,
        ci_low: interval.low,
        ci_high: interval.high,
        failing_seeds: failing_seeds.to_vec(),
        verdict: Verdict::of(failures, runs),
        severity: Severity::of(rate, &Default::default()),
        classification: None,
        first_failure: (failures > 0).then(|| format!("{name} failed")),
        severity_note: None,
        classname: None,
        failing_attempts: Vec::new(),
        mean_seconds: None,
    }
}

/// `base` with `runs` runs (cloned from its first result) of which those with the seeds in
/// `failing` fail, and the job-level figures recomputed.
pub fn with_runs(base: &Summary, seeds: &[u64], failing: &[u64]) -> Summary {
    let mut summary = base.clone();
    let template = base
        .results
        .first()
        .expect("the base job has a run")
        .clone();
    summary.results = seeds
        .iter()
        .enumerate()
        .map(|(attempt, seed)| {
            let mut run = template.clone();
            run.attempt = attempt as u32;
            run.seed = *seed;
            run.passed = !failing.contains(seed);
            run.exit_code = Some(if run.passed { 0 } else { 1 });
            run.stderr = if run.passed {
                String::new()
            } else {
                format!("failure for seed {seed}")
            };
            run
        })
        .collect();
    let runs = seeds.len() as u32;
    let failures = summary.results.iter().filter(|r| !r.passed).count() as u32;
    let interval = flaky_detector::analysis::wilson(failures, runs);
    summary.total_runs = runs;
    summary.failures = failures;
    summary.repro_rate = f64::from(failures) / f64::from(runs.max(1));
    summary.ci_low = interval.low;
    summary.ci_high = interval.high;
    summary.verdict = Verdict::of(failures, runs);
    summary.severity = Severity::of(summary.repro_rate, &Default::default());
    summary.failing_seeds = summary
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.seed)
        .collect();
    summary.run_id = None;
    summary
}

//! A triage job (`triage` in the job input, `flaky-detector triage`): a red pull request's
//! failing tests, and only those, run at its head and at its base with the same seeds, both
//! sides prepared once (the install cache) and run at once within `parallelism`, in rounds
//! until every test's verdict is settled ([`judge`]) or the run budget is spent. The answer is
//! the head side's summary with a [`TriageReport`] in it, so every front end, history and
//! report that takes a summary takes a triage.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::checkout::JobCheckout;
use super::{
    Deps, DetectError, Findings, FirstPhase, Opened, RunSetup, build_summary, open_checkout,
    prepare_runs,
};
use crate::analysis::assess::Assessment;
use crate::analysis::triage::{Tally, judge};
use crate::config::Settings;
use crate::events::{Event, Events};
use crate::framework::results::junit;
use crate::framework::results::test_result::{TestReport, TestStatus};
use crate::framework::seed::plan_seeds;
use crate::history::{JobFilter, Store, record_summary};
use crate::job::{DEFAULT_TRIAGE_RUNS, Job, TriageRequest};
use crate::runner::{RunRecord, RunRequest, run_all};
use crate::summary::Summary;
use crate::summary::triage::{TestTriage, TriageReport, TriageSide};
use crate::workspace::{FetchSettings, Workspace, merge_base};

/// Why a triage could not start. One sentence each.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("triage.junit is not a JUnit report we can read: {0}")]
    Junit(String),
    #[error(
        "triage.junit holds no failed test case: nothing to triage (pass the report of the red run, or name tests in `tests`)"
    )]
    NoFailures,
}

/// One side of the comparison, prepared for its runs.
struct Side {
    workspace: Workspace,
    settings: Settings,
    setup: RunSetup,
    warnings: Vec<String>,
    job: Job,
    records: Vec<RunRecord>,
    /// How the ref was found, for the report.
    described_ref: String,
}

/// Runs the triage job `job` (its `triage` is `request`).
pub(super) async fn triage(
    job: Job,
    request: TriageRequest,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary, DetectError> {
    let started = Instant::now();
    let tests = failing_tests(&job, &request)?;
    let fetch = FetchSettings {
        token: deps.git_token.clone(),
        timeout: deps.clone_timeout,
    };
    let head_ref = job.git_ref.clone();
    let (base_ref, described_base) = match &request.base_ref {
        Some(base) => (base.clone(), base.clone()),
        None => {
            let found = merge_base(&job.repo, head_ref.as_deref(), &deps.work_dir, &fetch).await?;
            let description = format!("merge base of {} and {}", found.head, found.default);
            (found.commit, description)
        }
    };
    let mut head_job = job.clone();
    head_job.overrides.tests = tests.clone();
    let mut base_job = head_job.clone();
    base_job.git_ref = Some(base_ref);
    events.emit(Event::Fetching {
        repo: job.repo.display(),
    });
    let (head, base) = tokio::join!(
        prepare_side(head_job, deps, events, cancel, &fetch),
        prepare_side(base_job, deps, events, cancel, &fetch),
    );
    let mut head = head?;
    head.described_ref = head_ref.unwrap_or_else(|| "the default branch".into());
    let mut base = base?;
    base.described_ref = described_base;

    let max_runs = request.max_runs.unwrap_or(DEFAULT_TRIAGE_RUNS);
    let report = run_rounds(&mut head, &mut base, &tests, max_runs, events, cancel).await;
    head.setup.template.places.finish().await;
    base.setup.template.places.finish().await;
    let mut report = report;
    if let Some(store) = &deps.history {
        add_history(store, &job.repo.display(), &mut report).await;
    }
    let mut summary = side_summary(head, started);
    summary.triage = Some(report);
    summary.cancelled = cancel.is_cancelled();
    if let Some(store) = &deps.history {
        summary = record_summary(store, summary).await;
    }
    drop(base.workspace);
    Ok(summary)
}

/// The tests to triage: those the input names, then the failed cases of its JUnit report,
/// each once.
fn failing_tests(job: &Job, request: &TriageRequest) -> Result<Vec<String>, DetectError> {
    let mut tests = job.overrides.tests.clone();
    if let Some(xml) = &request.junit {
        let cases = junit::parse(xml)
            .map_err(|error| TriageError::Junit(crate::errors::one_line(&error)))?;
        let failed: Vec<String> = cases
            .into_iter()
            .filter(|case| case.status.failed() && !case.is_collection_error())
            .map(|case| case.name)
            .collect();
        if failed.is_empty() && tests.is_empty() {
            return Err(TriageError::NoFailures.into());
        }
        tests.extend(failed);
    }
    let mut seen = std::collections::HashSet::new();
    tests.retain(|test| seen.insert(test.clone()));
    Ok(tests)
}

/// Clones (or copies) one side at its ref, resolves its settings with the tests chosen and
/// no confirmation phase (the rounds are the evidence), installs, and prepares its runs.
async fn prepare_side(
    job: Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
    fetch: &FetchSettings,
) -> Result<Side, DetectError> {
    let opened = open_checkout(&job, deps, events, cancel, fetch, None, |settings| {
        settings.confirm = false;
        settings.stop_early = false;
    })
    .await?;
    let Opened {
        workspace,
        settings,
        selection,
        warnings,
        settled,
    } = opened;
    let setup = prepare_runs(
        &job,
        deps,
        events,
        cancel,
        JobCheckout {
            workspace: &workspace,
            places: settled.places,
            framework: settled.framework,
            selection: selection.as_ref(),
        },
        &settings,
    )
    .await?;
    // Fresh processes, as the reproduce line runs them: a verdict is evidence, and a fork
    // server fixes at its start what a fresh process would vary (built test binaries stay).
    let mut setup = setup;
    let fresh = setup.template.fresh_processes();
    if fresh.build.is_none() && setup.template.build.is_some() {
        setup.build_mode = "off: a triage runs each test in a fresh process".into();
    }
    setup.template = Arc::new(fresh);
    Ok(Side {
        workspace,
        settings,
        setup,
        warnings,
        job,
        records: Vec::new(),
        described_ref: String::new(),
    })
}

/// The rounds: each side runs the same seeds, `parallelism` runs a round, split between the
/// sides that still matter; after each round every test is judged, and the runs stop when
/// every verdict is settled or `max_runs` a side are spent.
async fn run_rounds(
    head: &mut Side,
    base: &mut Side,
    tests: &[String],
    max_runs: u32,
    events: &Events,
    cancel: &CancellationToken,
) -> TriageReport {
    let settings = &head.settings;
    let seeds = plan_seeds(max_runs, settings.seed_range, settings.seeds.as_deref());
    let parallelism = settings.parallelism.max(1);
    let round = parallelism.max(2);
    events.emit(Event::Running {
        runs: max_runs.saturating_mul(2),
        parallelism,
        command: settings.command_line.clone(),
    });
    let mut made = 0u32;
    let mut settled_after: BTreeMap<String, u32> = BTreeMap::new();
    let stopped = loop {
        let tallies = tally(tests, &head.records, &base.records);
        let budget_spent = made >= max_runs;
        let mut needs_base = false;
        let mut open = 0;
        for (test, (h, b)) in tests.iter().zip(&tallies) {
            let judged = judge(*h, *b, budget_spent);
            if judged.settled {
                settled_after.entry(test.clone()).or_insert(made);
            } else {
                open += 1;
                needs_base |= judged.needs_base;
            }
        }
        if open == 0 {
            break if budget_spent {
                format!("the run budget was spent ({max_runs} runs a side)")
            } else {
                format!("every verdict was settled after {made} runs at head")
            };
        }
        if cancel.is_cancelled() {
            break format!("cancelled after {made} runs at head");
        }
        let count = round.min(max_runs - made);
        let requests: Vec<RunRequest> = (made..made + count)
            .map(|attempt| RunRequest {
                attempt,
                seed: seeds[attempt as usize],
            })
            .collect();
        let (head_slots, base_slots) = if needs_base {
            (parallelism.div_ceil(2), (parallelism / 2).max(1))
        } else {
            (parallelism, 0)
        };
        let head_template = head.setup.template.clone();
        let base_template = base.setup.template.clone();
        let head_runs = async {
            run_all(
                head_template,
                requests.clone(),
                head_slots,
                events,
                cancel,
                &mut |_| false,
            )
            .await
        };
        let base_runs = async {
            if base_slots == 0 {
                return Ok(Vec::new());
            }
            run_all(
                base_template,
                requests.clone(),
                base_slots,
                events,
                cancel,
                &mut |_| false,
            )
            .await
        };
        let (head_done, base_done) = tokio::join!(head_runs, base_runs);
        match head_done {
            Ok(records) => head.records.extend(records),
            Err(error) => {
                break format!(
                    "the runs at head could not start: {}",
                    crate::errors::one_line(&error)
                );
            }
        }
        match base_done {
            Ok(records) => base.records.extend(records),
            Err(error) => {
                break format!(
                    "the runs at base could not start: {}",
                    crate::errors::one_line(&error)
                );
            }
        }
        made += count;
    };
    let tallies = tally(tests, &head.records, &base.records);
    let budget_spent = made >= max_runs || cancel.is_cancelled();
    let mut verdicts: Vec<TestTriage> = tests
        .iter()
        .zip(tallies)
        .map(|(test, (h, b))| {
            let judged = judge(h, b, budget_spent);
            TestTriage {
                test: test.clone(),
                verdict: judged.verdict,
                new_at_head: judged.new_at_head,
                head: h.into(),
                base: b.into(),
                settled_after: settled_after.get(test).copied().unwrap_or(made),
                evidence: judged.evidence,
                history: None,
            }
        })
        .collect();
    verdicts.sort_by_key(|t| t.verdict);
    TriageReport {
        head: TriageSide {
            git_ref: head.described_ref.clone(),
            commit: head.workspace.commit.clone().unwrap_or_default(),
        },
        base: TriageSide {
            git_ref: base.described_ref.clone(),
            commit: base.workspace.commit.clone().unwrap_or_default(),
        },
        max_runs,
        head_runs: head.records.len() as u32,
        base_runs: base.records.len() as u32,
        stopped,
        tests: verdicts,
    }
}

/// Each test's tally at head and at base.
fn tally(tests: &[String], head: &[RunRecord], base: &[RunRecord]) -> Vec<(Tally, Tally)> {
    tests
        .iter()
        .map(|test| {
            let mut h = Tally::default();
            let mut b = Tally::default();
            for record in head {
                h.add(outcome(record, test));
            }
            for record in base {
                b.add(outcome(record, test));
            }
            (h, b)
        })
        .collect()
}

/// Whether `test` failed in `record`: its own result when the run reported it; failed when
/// the run failed without reporting any test (it did not build, a module did not import);
/// `None` when the run reported other tests but not this one, or passed without it (the
/// test does not exist on this side, or was skipped).
fn outcome(record: &RunRecord, test: &str) -> Option<bool> {
    let results = match &record.tests {
        TestReport::Parsed(results) | TestReport::Console(results) => results.as_slice(),
        _ => &[],
    };
    if let Some(result) = results.iter().find(|r| r.name == test) {
        return match result.status {
            TestStatus::Skipped => None,
            status => Some(status.failed()),
        };
    }
    let reported_tests = results.iter().any(|r| !r.is_collection_error());
    (!record.outcome.passed() && !reported_tests).then_some(true)
}

/// The head side's summary: its runs as a job of their own, without replays.
fn side_summary(side: Side, started: Instant) -> Summary {
    let Side {
        workspace,
        settings,
        setup,
        warnings,
        job,
        records,
        ..
    } = side;
    let assessment = Assessment::new(&records, &settings);
    let findings = Findings {
        phase: FirstPhase {
            records,
            runs_saved: 0,
        },
        assessment,
        order_dependence: Vec::new(),
    };
    let duration = started.elapsed().as_secs_f64();
    let mut summary = build_summary(
        &job, &workspace, &settings, warnings, setup, findings, duration,
    );
    summary.duration_seconds = crate::analysis::stats::round3(duration);
    summary
}

/// What history knew of each triaged test before this job: in how many recorded jobs of the
/// repository it was flaky, its pooled rate, when it was last seen. A history that cannot
/// be read leaves the verdicts as they are (the triage does not depend on it).
async fn add_history(store: &Arc<Store>, repo: &str, report: &mut TriageReport) {
    let store = store.clone();
    let filter = JobFilter {
        repo: Some(repo.to_string()),
        ..JobFilter::default()
    };
    let known = tokio::task::spawn_blocking(move || store.flakiest_tests(&filter, None)).await;
    let known = match known {
        Ok(Ok(known)) => known,
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::errors::one_line(&error), "triage: history could not be read");
            return;
        }
        Err(_) => return,
    };
    for test in &mut report.tests {
        if let Some(flaky) = known.iter().find(|k| k.name == test.test) {
            test.history = Some(format!(
                "history: flaky in {} of {} recorded jobs, failed {} of {} runs ({:.1} %), last seen {}",
                flaky.flaky_jobs,
                flaky.jobs,
                flaky.failures,
                flaky.runs,
                flaky.failure_rate * 100.0,
                flaky.last_seen.format("%Y-%m-%d")
            ));
        }
    }
}

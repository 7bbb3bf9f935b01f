//! [`detect()`]: the one pipeline every front end calls. Workspace, config, framework,
//! install (a failed one stops the job after one probe run), runs (stopping early when asked), confirmation ([`confirm`](mod@confirm)), test order
//! ([`order`]), summary, in that order; progress goes out as [`Event`]s. The pipeline makes
//! the decisions (which seeds to replay, which orders to try) from `analysis`'s judgement and
//! hands the runs to `runner`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

mod checkout;
use checkout::JobCheckout;
pub mod confirm;
mod control;
mod error;
pub mod order;
mod triage;
pub use error::DetectError;
pub use triage::TriageError;

use crate::analysis::assess::Assessment;
use crate::analysis::early_stop;
use crate::analysis::per_test::{Ignore, run_failed};
use crate::config::policy::JobPolicy;
use crate::config::{FileConfig, Settings};
use crate::events::{Event, Events};
use crate::framework::Framework;
use crate::framework::build_once::{self, BuildContext};
use crate::framework::install::{InstallContext, Prepared, install};
use crate::framework::order::{OrderSetup, setup as setup_order};
use crate::framework::runner_report::RunnerOptions;
use crate::framework::seed::{HASH_SEED_VAR, plan_seeds};
use crate::framework::select::Selection;
use crate::history::{Store, record_summary};
use crate::job::Job;
use crate::process::env::{EnvBuilder, inherited};
use crate::runner::{RunRecord, RunRequest, RunTemplate, run_all};
use crate::summary::{JobFacts, OrderFinding, Summary, reproduce_line};
use crate::workspace::{FetchSettings, GitToken, Workspace};
use confirm::confirm;

/// What the operator decides, as opposed to the job: where scratch and cache directories
/// live, git credentials, and process limits.
#[derive(Clone)]
pub struct Deps {
    /// Parent of each job's scratch directory.
    pub work_dir: PathBuf,
    /// Dependency cache shared by jobs (`FLAKY_CACHE_DIR`).
    pub cache_dir: PathBuf,
    /// For https clones, and only to the hosts it belongs to.
    pub git_token: Option<GitToken>,
    pub clone_timeout: Duration,
    /// Time between SIGTERM and SIGKILL for a run that timed out.
    pub kill_grace: Duration,
    /// Where finished jobs are recorded before any front end reports them; `None` records
    /// nothing (tests, and front ends whose operator turned history off).
    pub history: Option<Arc<Store>>,
    /// What the repository's own file may decide (a shared server bounds it).
    pub policy: JobPolicy,
}

impl Deps {
    /// Defaults from the environment: `FLAKY_WORK_DIR` (else the system temp dir),
    /// `FLAKY_CACHE_DIR` (else the RunPod volume, else the XDG cache dir), and `GIT_TOKEN` or
    /// `GITHUB_TOKEN` for https clones (see [`GitToken::from_env`] for the hosts it goes to).
    pub fn from_env() -> Deps {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let cache_dir = var("FLAKY_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                let volume = PathBuf::from("/runpod-volume");
                volume.is_dir().then(|| volume.join("flaky-detector-cache"))
            })
            .or_else(|| dirs::cache_dir().map(|d| d.join("flaky-detector")))
            .unwrap_or_else(|| std::env::temp_dir().join("flaky-detector-cache"));
        Deps {
            work_dir: var("FLAKY_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            cache_dir,
            git_token: GitToken::from_env(),
            clone_timeout: Duration::from_secs(300),
            kill_grace: Duration::from_secs(2),
            history: None,
            policy: JobPolicy::default(),
        }
    }
}

/// Runs one job end to end. Returns a summary whenever the runs happened, even if every one
/// failed; an `Err` means the job could not run at all. On `cancel`, runs in flight are
/// killed and the summary covers the runs that finished (or `Cancelled` if none could start).
pub async fn detect(
    job: Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Summary, DetectError> {
    if let Some(request) = job.triage.clone() {
        return triage::triage(job, request, deps, events, cancel).await;
    }
    let started = Instant::now();
    events.emit(Event::Fetching {
        repo: job.repo.display(),
    });
    let fetch = FetchSettings {
        token: deps.git_token.clone(),
        timeout: deps.clone_timeout,
    };
    let opened = open_checkout(&job, deps, events, cancel, &fetch, Some(started), |_| {}).await?;
    let Opened {
        workspace,
        settings,
        selection,
        warnings,
        settled,
    } = opened;
    let job_checkout = JobCheckout {
        workspace: &workspace,
        places: settled.places,
        framework: settled.framework,
        selection: selection.as_ref(),
    };
    match run_pipeline(
        &job,
        deps,
        events,
        cancel,
        job_checkout,
        &settings,
        warnings,
    )
    .await
    {
        Ok(mut summary) => {
            summary.duration_seconds =
                crate::analysis::stats::round3(started.elapsed().as_secs_f64());
            summary.cancelled = cancel.is_cancelled();
            if settings.preserve_temp_dir {
                summary.temp_dir = Some(workspace.keep().display().to_string());
            }
            if let Some(store) = &deps.history {
                summary = record_summary(store, summary).await;
            }
            if job.junit {
                summary.junit_xml = Some(crate::report::junit::render(&summary));
            }
            Ok(summary)
        }
        Err(error) => {
            keep_on_failure(workspace, settings.cleanup_on_failure);
            Err(error)
        }
    }
}

/// A job's checkout with its settings resolved, ready for its runs.
struct Opened {
    workspace: Workspace,
    settings: Settings,
    selection: Option<Selection>,
    /// From the repository's file and the operator's policy.
    warnings: Vec<String>,
    settled: checkout::Settled,
}

/// Clones (or copies) the job's repository, reads its `.flaky-detector.yml` and resolves
/// the settings (the operator's policy applied, then `adjust`, then the tests chosen), and
/// settles the checkout where the runs will work. A job and each side of a triage start
/// this way. `Fetched` reports the time since `started` (0 without it). When the settings
/// cannot be resolved, the workspace is kept or removed as the file and the policy say.
async fn open_checkout(
    job: &Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
    fetch: &FetchSettings,
    started: Option<Instant>,
    adjust: impl FnOnce(&mut Settings),
) -> Result<Opened, DetectError> {
    let mut workspace = tokio::select! {
        ws = checkout::open(job, deps, fetch) => ws?,
        () = cancel.cancelled() => return Err(DetectError::Cancelled),
    };
    events.emit(Event::Fetched {
        commit: workspace.commit.clone(),
        duration_ms: started.map_or(0, |at| at.elapsed().as_millis() as u64),
    });
    let file = FileConfig::load(workspace.checkout())?;
    let mut warnings = file.warnings.clone();
    let resolved = Settings::resolve(job, &file)
        .map_err(DetectError::from)
        .and_then(|mut settings| {
            deps.policy.apply(&mut settings, &mut warnings);
            adjust(&mut settings);
            let selection = choose_tests(&mut settings)?;
            Ok((settings, selection))
        });
    let (settings, selection) = match resolved {
        Ok(resolved) => resolved,
        Err(error) => {
            let cleanup = deps.policy.cleanup_on_failure(file.cleanup_on_failure);
            keep_on_failure(workspace, cleanup);
            return Err(error);
        }
    };
    let settled = checkout::settle(&mut workspace, job, &settings).await?;
    Ok(Opened {
        workspace,
        settings,
        selection,
        warnings,
        settled,
    })
}

/// The stages after the workspace and settings, in data-flow order: prepare what the runs
/// share, run them (stopping early when asked), confirm and search for order dependence,
/// then build the summary.
async fn run_pipeline(
    job: &Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
    checkout: JobCheckout<'_>,
    settings: &Settings,
    warnings: Vec<String>,
) -> Result<Summary, DetectError> {
    let started = Instant::now();
    let workspace = checkout.workspace;
    let mut setup = prepare_runs(job, deps, events, cancel, checkout, settings).await?;
    let ignore = Ignore::new(&settings.ignore_patterns);
    let stopped = stop_for_install(&mut setup, settings, events, cancel).await?;
    let install_failed = stopped.is_some();
    let findings = match stopped {
        Some(findings) => findings,
        None => run_and_assess(&mut setup, settings, &ignore, events, cancel).await?,
    };
    setup.template.places.finish().await;
    let duration_seconds = started.elapsed().as_secs_f64();
    let mut summary = build_summary(
        job,
        workspace,
        settings,
        warnings,
        setup,
        findings,
        duration_seconds,
    );
    if install_failed {
        summary.mark_install_failed();
    }
    Ok(summary)
}

/// When the install failed in a way that stops the runs: one probe run, and the findings of
/// that run alone if it failed too (the job then ends there). `None` when the runs go on; a
/// probe that passed despite the failed install leaves a warning.
async fn stop_for_install(
    setup: &mut RunSetup,
    settings: &Settings,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Option<Findings>, DetectError> {
    if !setup.install.stops_runs {
        return Ok(None);
    }
    let probe = run_probe(setup, settings, events, cancel).await?;
    if !probe.outcome.passed() {
        return Ok(Some(Findings {
            assessment: Assessment::new(std::slice::from_ref(&probe), settings),
            phase: FirstPhase {
                records: vec![probe],
                runs_saved: 0,
            },
            order_dependence: Vec::new(),
        }));
    }
    if let Some(sentence) = setup.install.report.failure_sentence() {
        setup.warnings.push(format!(
            "the install failed ({sentence}), but a probe run passed: the runs used what was already installed"
        ));
    }
    Ok(None)
}

/// The runs, the fork server's check against fresh processes, and what they show.
async fn run_and_assess(
    setup: &mut RunSetup,
    settings: &Settings,
    ignore: &Ignore,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<Findings, DetectError> {
    let mut phase = run_first_phase(setup, settings, ignore, events, cancel).await?;
    if let Some(control::FreshReruns { server, note }) = control::check(
        &setup.template,
        &mut phase.records,
        ignore,
        settings,
        cancel,
    )
    .await
    {
        setup.build_mode = format!("{} (then fresh processes: {note})", setup.build_mode);
        setup.warnings.push(format!(
            "{server}'s runs did not behave like fresh processes ({note}); \
             they were run again as fresh processes, and only fresh processes are counted"
        ));
    }
    Ok(assess(setup, settings, phase, ignore, events, cancel).await)
}

/// Everything the runs share, prepared before the first one starts.
struct RunSetup {
    framework: Framework,
    install: Prepared,
    /// The runner's options as the runs get them (shuffling by our plugin dropped when it
    /// could not be written); the reproduce line replays them.
    options: RunnerOptions,
    order_setup: OrderSetup,
    template: Arc<RunTemplate>,
    /// How the runs start (build once or not), said in the summary.
    build_mode: String,
    /// Why shuffling or the order plugin was dropped, for the summary's warnings.
    warnings: Vec<String>,
}

/// Framework, install, the run environment, the runner's options, the build-once step and
/// the order plugin, into one [`RunTemplate`]. `Cancelled` when `cancel` fires meanwhile.
async fn prepare_runs(
    job: &Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
    checkout: JobCheckout<'_>,
    settings: &Settings,
) -> Result<RunSetup, DetectError> {
    let JobCheckout {
        workspace,
        places,
        framework,
        selection,
    } = checkout;
    let checkout = workspace.checkout();
    let framework = job
        .overrides
        .framework
        .or(framework)
        .unwrap_or_else(|| Framework::recognise(checkout, &settings.argv));
    let base_env = inherited();

    events.emit(Event::Installing { framework });
    let prepared = install(&InstallContext {
        framework,
        checkout,
        cache_dir: &deps.cache_dir,
        env: &base_env,
        timeout: settings.install_timeout,
        enabled: settings.auto_install,
        cancel,
        choices: &settings.install,
    })
    .await;
    events.emit(Event::Installed {
        install: Box::new(prepared.report.clone()),
    });
    if cancel.is_cancelled() {
        return Err(DetectError::Cancelled);
    }

    let mut env = EnvBuilder::new(base_env);
    prepared.apply(&mut env);
    for (name, value) in &job.env {
        env.set(name.clone(), value.clone());
    }
    let env = env.build();
    let (mut options, options_warning) = RunnerOptions::resolve(
        &settings.argv,
        &settings.junit_paths,
        settings.shuffle,
        &env,
        checkout,
        cancel,
    )
    .await;
    // A failed install stops the job after one probe run: building the tests once would
    // only meet the same missing package.
    let build_once = if prepared.stops_runs {
        crate::job::BuildOnce::Off
    } else {
        settings.build_once
    };
    let (build, build_mode) = build_once::prepare(
        build_once,
        &BuildContext {
            argv: &settings.argv,
            env: &env,
            checkout,
            out_dir: &workspace.scratch().join("build-once"),
            timeout: settings.install_timeout,
            cancel,
        },
    )
    .await;
    if cancel.is_cancelled() {
        return Err(DetectError::Cancelled);
    }
    let (mut order_setup, order_warning) = setup_order(&mut options, &env, &deps.cache_dir).await;
    let select_warning = match selection {
        Some(selection) => {
            selection
                .setup(
                    &mut order_setup,
                    &env,
                    &deps.cache_dir,
                    options.shuffle.is_some(),
                )
                .await?
        }
        None => None,
    };
    let mut env = env;
    // Set, not appended: the order plugin's search path already holds the install's, and a
    // second entry of one name leaves which one a run gets to whoever reads it.
    for (name, value) in &order_setup.run_env {
        env.retain(|(k, _)| k != name);
        env.push((name.clone(), value.clone()));
    }
    let template = Arc::new(RunTemplate {
        argv: order_setup.argv(&settings.argv),
        checkout: checkout.to_path_buf(),
        scratch: workspace.scratch().join("runs"),
        env,
        framework,
        timeout: settings.timeout,
        kill_grace: deps.kill_grace,
        output_limit: settings.output_limit_bytes,
        keep_passing_output: settings.save_full_output,
        isolation: settings.isolation,
        preserve: settings.preserve_temp_dir,
        options: options.clone(),
        places,
        build: build.map(Arc::new),
    });
    Ok(RunSetup {
        framework,
        install: prepared,
        options,
        order_setup,
        template,
        build_mode,
        warnings: options_warning
            .into_iter()
            .chain(order_warning)
            .chain(select_warning)
            .collect(),
    })
}

/// The one run a job makes after a failed install, with the first seed, to show the error
/// the tests meet without the dependencies. `Cancelled` when `cancel` fired before it ended.
async fn run_probe(
    setup: &RunSetup,
    settings: &Settings,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<RunRecord, DetectError> {
    let seed = plan_seeds(1, settings.seed_range, settings.seeds.as_deref())
        .into_iter()
        .next()
        .unwrap_or(settings.seed_range.0);
    events.emit(Event::Running {
        runs: 1,
        parallelism: 1,
        command: settings.command_line.clone(),
    });
    let records = run_all(
        setup.template.clone(),
        vec![RunRequest { attempt: 0, seed }],
        1,
        events,
        cancel,
        &mut |_| false,
    )
    .await?;
    match records.into_iter().next() {
        Some(record) if !cancel.is_cancelled() => Ok(record),
        _ => Err(DetectError::Cancelled),
    }
}

/// The first phase's runs, and how many of the asked-for runs an early stop saved.
struct FirstPhase {
    records: Vec<RunRecord>,
    runs_saved: u32,
}

/// Runs the job's seeds on `settings.parallelism` slots, stopping once the outcome is
/// settled when `stop_early` is on, or at the first failing run for `verify-fix` (runs in
/// flight then still finish). `Cancelled` when `cancel` fired before any run ended.
async fn run_first_phase(
    setup: &RunSetup,
    settings: &Settings,
    ignore: &Ignore,
    events: &Events,
    cancel: &CancellationToken,
) -> Result<FirstPhase, DetectError> {
    let requests: Vec<RunRequest> = plan_seeds(
        settings.runs,
        settings.seed_range,
        settings.seeds.as_deref(),
    )
    .into_iter()
    .enumerate()
    .map(|(attempt, seed)| RunRequest {
        attempt: attempt as u32,
        seed,
    })
    .collect();
    events.emit(Event::Running {
        runs: settings.runs,
        parallelism: settings.parallelism,
        command: settings.command_line.clone(),
    });
    let records = run_all(
        setup.template.clone(),
        requests,
        settings.parallelism,
        events,
        cancel,
        &mut |done| {
            (settings.stop_early && early_stop::settled_runs(done, ignore, &settings.thresholds))
                || (settings.stop_at_first_failure && done.iter().any(|r| run_failed(r, ignore)))
        },
    )
    .await?;
    if records.is_empty() && cancel.is_cancelled() {
        return Err(DetectError::Cancelled);
    }
    let stops = settings.stop_early || settings.stop_at_first_failure;
    let runs_saved = if stops && !cancel.is_cancelled() {
        settings.runs.saturating_sub(records.len() as u32)
    } else {
        0
    };
    Ok(FirstPhase {
        records,
        runs_saved,
    })
}

/// What the runs showed: the first phase, its assessment (with the confirmation's
/// verdicts) and the tests found to depend on the order.
struct Findings {
    phase: FirstPhase,
    assessment: Assessment,
    order_dependence: Vec<OrderFinding>,
}

/// Assesses the first phase; with `confirm`, re-runs the suspects and searches for order
/// dependence.
async fn assess(
    setup: &RunSetup,
    settings: &Settings,
    phase: FirstPhase,
    ignore: &Ignore,
    events: &Events,
    cancel: &CancellationToken,
) -> Findings {
    let mut assessment = Assessment::new(&phase.records, settings);
    for warning in setup.warnings.iter().cloned() {
        assessment.warn(warning);
    }
    let mut order_dependence = Vec::new();
    if settings.confirm {
        let first_attempt = settings.runs;
        // Replays decide a class: they run as the reproduce line does, in fresh processes.
        confirm(
            &mut assessment,
            Arc::new(setup.template.fresh_processes()),
            settings.parallelism,
            first_attempt,
            settings.confirm_budget,
            events,
            cancel,
        )
        .await;
        let context = order::OrderContext {
            template: setup.template.clone(),
            setup: &setup.order_setup,
            ignore,
            // Past every run of the confirmation phase, whatever its size.
            first_attempt: settings.runs.saturating_add(ORDER_ATTEMPTS_FROM),
            cancel,
        };
        order_dependence = order::find(&mut assessment, &phase.records, &context).await;
    }
    Findings {
        phase,
        assessment,
        order_dependence,
    }
}

/// The summary of the job: its facts, the per-run records, the assessment's verdicts and
/// a reproduce line per failing seed.
fn build_summary(
    job: &Job,
    workspace: &Workspace,
    settings: &Settings,
    warnings: Vec<String>,
    setup: RunSetup,
    findings: Findings,
    duration_seconds: f64,
) -> Summary {
    let Findings {
        phase: FirstPhase {
            records,
            runs_saved,
        },
        assessment,
        order_dependence,
    } = findings;
    let framework = setup.framework;
    let facts = JobFacts {
        settings,
        framework,
        install: setup.install.report,
        repo: job.repo.display(),
        git_ref: job.git_ref.clone(),
        commit: workspace.commit.clone(),
        meta: &job.meta,
        env: &job.env,
        warnings,
        duration_seconds,
    };
    // The hash seed each seed's first run really had, where it is not the seed's own (a
    // fork server's): the reproduce line must carry it.
    let mut hash_seeds = std::collections::HashMap::new();
    for record in &records {
        if let Some(hash_seed) = record.hash_seed {
            hash_seeds.entry(record.seed).or_insert(hash_seed);
        }
    }
    let mut summary = Summary::build(facts, records);
    summary.runs_saved = runs_saved;
    summary.isolation_mechanism = setup.template.places.mechanism();
    summary.build_once = Some(setup.build_mode);
    let reproduce_env = setup.order_setup.reproduce_env(&job.env);
    summary.apply(assessment.conclude(), |seed| {
        let argv = setup
            .options
            .replay_argv(&setup.order_setup.argv(&settings.argv), seed);
        match hash_seeds.get(&seed) {
            Some(hash_seed) => {
                let mut env = reproduce_env.clone();
                env.insert(HASH_SEED_VAR.into(), hash_seed.to_string());
                reproduce_line(framework, seed, &env, &argv)
            }
            None => reproduce_line(framework, seed, &reproduce_env, &argv),
        }
    });
    summary.order_dependence = order_dependence;
    mark_quarantined(&mut summary, workspace.checkout());
    summary
}

/// Names the failing tests that the checkout's quarantine file lists, so every report says
/// which failures the repository's CI lets through; a file that cannot be read is a warning.
fn mark_quarantined(summary: &mut Summary, checkout: &std::path::Path) {
    match crate::quarantine::QuarantineFile::load(checkout) {
        Ok(file) => {
            let listed = file.ids_for(summary.framework);
            summary.quarantined = (summary.tests.iter())
                .filter(|t| t.failures > 0 && listed.contains(&t.name))
                .map(|t| t.name.clone())
                .collect();
        }
        Err(error) => summary.warnings.push(format!(
            "the quarantine file was not read: {}",
            crate::errors::one_line(&error)
        )),
    }
}

/// The runner's filter for the job's `tests`, put into the command every run gets (and so
/// into the reproduce line); `None` when the job runs every test.
fn choose_tests(settings: &mut Settings) -> Result<Option<Selection>, DetectError> {
    if settings.tests.is_empty() {
        return Ok(None);
    }
    let selection = Selection::for_tests(&settings.tests, &settings.argv)?;
    settings.argv = selection.argv(&settings.argv);
    Ok(Some(selection))
}

/// Attempt numbers of the order search's runs start this far past the first phase's, so
/// their run directories never meet the confirmation phase's.
const ORDER_ATTEMPTS_FROM: u32 = 1_000_000;

/// With `cleanup_on_failure: false`, a job that failed leaves its scratch directory for
/// inspection; the path goes to the log.
fn keep_on_failure(workspace: Workspace, cleanup: bool) {
    if !cleanup {
        let path = workspace.keep();
        tracing::warn!(path = %path.display(), "kept the scratch directory of a failed job");
    }
}

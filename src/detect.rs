//! [`detect()`]: the one pipeline every front end calls. Workspace, config, framework,
//! install, runs (stopping early when asked), confirmation ([`confirm`](mod@confirm)), test order
//! ([`order`]), summary, in that order; progress goes out as [`Event`]s. The pipeline makes
//! the decisions (which seeds to replay, which orders to try) from `analysis`'s judgement and
//! hands the runs to `runner`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub mod confirm;
mod error;
pub mod order;
pub use error::DetectError;

use crate::analysis::assess::Assessment;
use crate::analysis::early_stop;
use crate::analysis::per_test::Ignore;
use crate::config::policy::JobPolicy;
use crate::config::{FileConfig, Settings};
use crate::events::{Event, Events};
use crate::framework::Framework;
use crate::framework::build_once::{self, BuildContext};
use crate::framework::install::{InstallContext, install};
use crate::framework::report::RunnerOptions;
use crate::framework::seed::plan_seeds;
use crate::history::{Store, record_summary};
use crate::job::Job;
use crate::process::env::{EnvBuilder, inherited};
use crate::runner::{RunRequest, RunTemplate, run_all};
use crate::summary::{JobFacts, Summary, reproduce_line};
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
    let started = Instant::now();
    events.emit(Event::Fetching {
        repo: job.repo.display(),
    });
    let fetch = FetchSettings {
        token: deps.git_token.clone(),
        timeout: deps.clone_timeout,
    };
    let workspace = tokio::select! {
        ws = Workspace::prepare(&job.repo, job.git_ref.as_deref(), &deps.work_dir, &fetch) => ws?,
        () = cancel.cancelled() => return Err(DetectError::Cancelled),
    };
    events.emit(Event::Fetched {
        commit: workspace.commit.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    });

    let file = FileConfig::load(workspace.checkout())?;
    let mut warnings = file.warnings.clone();
    let settings = match Settings::resolve(&job, &file) {
        Ok(mut settings) => {
            deps.policy.apply(&mut settings, &mut warnings);
            settings
        }
        Err(error) => {
            let cleanup = deps.policy.cleanup_on_failure(file.cleanup_on_failure);
            keep_on_failure(workspace, cleanup);
            return Err(error.into());
        }
    };
    match run_pipeline(&job, deps, events, cancel, &workspace, &settings, warnings).await {
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
            Ok(summary)
        }
        Err(error) => {
            keep_on_failure(workspace, settings.cleanup_on_failure);
            Err(error)
        }
    }
}

async fn run_pipeline(
    job: &Job,
    deps: &Deps,
    events: &Events,
    cancel: &CancellationToken,
    workspace: &Workspace,
    settings: &Settings,
    warnings: Vec<String>,
) -> Result<Summary, DetectError> {
    let started = Instant::now();
    let checkout = workspace.checkout();
    let framework = job
        .overrides
        .framework
        .unwrap_or_else(|| Framework::detect(checkout, &settings.argv));
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
    })
    .await;
    events.emit(Event::Installed {
        install: prepared.report.clone(),
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
    let (build, build_mode) = build_once::prepare(
        settings.build_once,
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
    let (order_setup, order_warning) = order::setup(&mut options, &env, &deps.cache_dir).await;
    let mut env = env;
    env.extend(order_setup.run_env.iter().cloned());
    let template = Arc::new(RunTemplate {
        argv: settings.argv.clone(),
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
        places: Default::default(),
        build: build.map(Arc::new),
    });
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
    let ignore = Ignore::new(&settings.ignore_patterns);
    let records = run_all(
        template.clone(),
        requests,
        settings.parallelism,
        events,
        cancel,
        &mut |done| {
            settings.stop_early && early_stop::settled_runs(done, &ignore, &settings.thresholds)
        },
    )
    .await?;
    if records.is_empty() && cancel.is_cancelled() {
        return Err(DetectError::Cancelled);
    }
    let runs_saved = if settings.stop_early && !cancel.is_cancelled() {
        settings.runs.saturating_sub(records.len() as u32)
    } else {
        0
    };
    let mut assessment = Assessment::new(&records, settings);
    for warning in options_warning.into_iter().chain(order_warning) {
        assessment.warn(warning);
    }
    let mut order_dependence = Vec::new();
    if settings.confirm {
        let first_attempt = settings.runs;
        confirm(
            &mut assessment,
            template.clone(),
            settings.parallelism,
            first_attempt,
            settings.confirm_budget,
            events,
            cancel,
        )
        .await;
        let context = order::OrderContext {
            template: template.clone(),
            setup: &order_setup,
            ignore: &ignore,
            // Past every run of the confirmation phase, whatever its size.
            first_attempt: settings.runs.saturating_add(ORDER_ATTEMPTS_FROM),
            cancel,
        };
        order_dependence = order::find(&mut assessment, &records, &context).await;
    }
    template.places.finish().await;

    let facts = JobFacts {
        settings,
        framework,
        install: prepared.report,
        repo: job.repo.display(),
        git_ref: job.git_ref.clone(),
        commit: workspace.commit.clone(),
        meta: &job.meta,
        env: &job.env,
        warnings,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    // The hash seed each seed's first run really had, where it is not the seed's own (a
    // pytest fork server's): the reproduce line must carry it.
    let mut hash_seeds = std::collections::HashMap::new();
    for record in &records {
        if let Some(hash_seed) = record.hash_seed {
            hash_seeds.entry(record.seed).or_insert(hash_seed);
        }
    }
    let mut summary = Summary::build(facts, records);
    summary.runs_saved = runs_saved;
    summary.isolation_mechanism = template.places.mechanism();
    summary.build_once = Some(build_mode);
    let reproduce_env = order_setup.reproduce_env(&job.env);
    summary.apply(assessment.conclude(), |seed| {
        let argv = options.replay_argv(&settings.argv, seed);
        match hash_seeds.get(&seed) {
            Some(hash_seed) => {
                let mut env = reproduce_env.clone();
                env.insert("PYTHONHASHSEED".into(), hash_seed.to_string());
                reproduce_line(framework, seed, &env, &argv)
            }
            None => reproduce_line(framework, seed, &reproduce_env, &argv),
        }
    });
    summary.order_dependence = order_dependence;
    Ok(summary)
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

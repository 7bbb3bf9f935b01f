//! One seeded run of the test command ([`RunTemplate::run`]): its own place (a copy of the
//! checkout, TMPDIR, cache and HOME; see [`super::isolation`]), its seed in the environment,
//! and a [`RunRecord`] as the result.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::isolation::{PlaceSpec, Places, RunPlace};
use crate::config::Isolation;
use crate::framework::build_once::BuiltRuns;
use crate::framework::results::console;
use crate::framework::results::test_result::{TestReport, TestResult, TestStatus};
use crate::framework::runner_report::RunnerOptions;
use crate::framework::seed::with_seed_args;
use crate::framework::{Framework, seed::seed_env};
use crate::process::capture::Captured;
use crate::process::{ProcessSpec, RunOutcome, RunnerError, run_process_teeing};

/// Marks the test that hung in a run killed at the timeout: `running` (named by the progress
/// plugin or the streaming output), and the tests a streaming report (`go test -json`) saw
/// start but never end.
fn name_hung_test(tests: &mut TestReport, running: Option<String>, timeout: Duration) {
    let message = format!(
        "hung: still running when the run was killed at the timeout ({} s)",
        timeout.as_secs()
    );
    if let Some(results) = tests.results_mut() {
        for result in results.iter_mut() {
            let unfinished = result
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("did not finish"));
            if result.status == TestStatus::Failed && unfinished {
                result.status = TestStatus::TimedOut;
                result.message = Some(message.clone());
            }
        }
    }
    let Some(name) = running else {
        return;
    };
    let hung = TestResult {
        classname: None,
        duration_ms: None,
        name,
        status: TestStatus::TimedOut,
        message: Some(message),
    };
    match tests.results_mut() {
        Some(results) => match results.iter_mut().find(|r| r.name == hung.name) {
            Some(result) => *result = hung,
            None => results.push(hung),
        },
        None => *tests = TestReport::Parsed(vec![hung]),
    }
}

/// Which run this is: its 0-based attempt number (the seed project's `attempt`) and its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRequest {
    pub attempt: u32,
    pub seed: u64,
}

/// What every run of a job shares.
#[derive(Debug, Clone)]
pub struct RunTemplate {
    pub argv: Vec<String>,
    /// The prepared checkout (dependencies installed).
    pub checkout: PathBuf,
    /// Where per-run directories are made; removed with the job's scratch directory.
    pub scratch: PathBuf,
    /// Base environment: worker minus secrets, plus install and job variables.
    pub env: Vec<(String, String)>,
    pub framework: Framework,
    pub timeout: Duration,
    pub kill_grace: Duration,
    pub output_limit: usize,
    /// Keep the output of passing runs too (`save_full_output`).
    pub keep_passing_output: bool,
    pub isolation: Isolation,
    /// Leave per-run directories on disk (`preserve_temp_dir`).
    pub preserve: bool,
    /// Report and shuffle flags added to each run's command.
    pub options: RunnerOptions,
    /// Where each run works (slots, copies of the checkout); shared by clones of the template.
    pub places: Places,
    /// Test binaries built once for the job (`build_once`); `None` runs the plain command.
    pub build: Option<Arc<BuiltRuns>>,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub attempt: u32,
    pub seed: u64,
    pub outcome: RunOutcome,
    pub duration: Duration,
    /// The `PYTHONHASHSEED` the run really had when it differs from the one its seed gives
    /// (a pytest fork server's, fixed when the server started); `None` for plain runs.
    pub hash_seed: Option<u32>,
    /// The fork server the run was forked from; `None` for a fresh process. Runs of one
    /// server share what it fixed when it started, so they are not independent samples.
    pub server: Option<u32>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Per-test results from the run's own report, when there is one.
    pub tests: TestReport,
}

impl RunRecord {
    /// True when the run kept any output (it failed, or passing output is kept).
    pub fn has_output(&self) -> bool {
        !self.stdout.is_empty() || !self.stderr.is_empty()
    }

    /// Keeps at most the last `max` bytes of each stream, once the run is over.
    pub fn trim_output(&mut self, max: usize) {
        self.stdout = std::mem::take(&mut self.stdout).tail(max);
        self.stderr = std::mem::take(&mut self.stderr).tail(max);
    }
}

impl RunTemplate {
    /// This template with every run a fresh process: what the reproduce line runs, so
    /// replays that decide a class describe it. Built test binaries are kept (each run of
    /// one is a fresh process already); a fork server is not.
    pub fn fresh_processes(&self) -> RunTemplate {
        let mut fresh = self.clone();
        if fresh
            .build
            .as_ref()
            .is_some_and(|b| b.shares_process_state())
        {
            fresh.build = None;
        }
        fresh
    }

    /// Runs once with `request`'s seed. Only a failure to start is an `Err`.
    pub async fn run(
        &self,
        request: RunRequest,
        cancel: &CancellationToken,
    ) -> Result<RunRecord, RunnerError> {
        let place = self
            .places
            .enter(
                &PlaceSpec {
                    isolation: self.isolation,
                    checkout: &self.checkout,
                    runs_dir: &self.scratch,
                    preserve: self.preserve,
                    env: &self.env,
                },
                request.attempt,
            )
            .await?;
        let env = self.env_for(request, &place);
        // The runner's own seed option (Jest, Vitest) first, so the shuffle flags added next
        // see it and do not add a second one.
        let argv = with_seed_args(&self.argv, request.seed);
        // Reports go to the place's scratch folder, which is the run's own while it runs.
        let prepared = self
            .options
            .prepare_run(&argv, request.seed, place.scratch(), place.written())
            .await
            .map_err(|source| RunnerError::RunDir {
                path: place.scratch().to_path_buf(),
                source,
            })?;
        let env = prepared.report.apply_env(env);
        // A fork server is held for the whole run and given back when `lease` drops.
        let lease = match &self.build {
            Some(built) => built.lease(request.attempt, request.seed).await,
            None => None,
        };
        let built = self
            .build
            .as_ref()
            .and_then(|built| built.invocation(&prepared.argv, place.cwd(), lease.as_ref()));
        let served = built.as_ref().and(lease.as_ref());
        let hash_seed = served.map(|lease| lease.hash_seed());
        let server = served.map(|lease| lease.server_id());
        let (program, arg0, args, cwd) = match built {
            Some(run) => (run.program, None, run.args, run.cwd),
            None => (
                place.program(&prepared.argv[0], &env),
                Some(prepared.argv[0].clone()),
                prepared.argv[1..].to_vec(),
                place.cwd().to_path_buf(),
            ),
        };
        let spec = ProcessSpec {
            program,
            arg0,
            args,
            cwd,
            env,
            timeout: self.timeout,
            kill_grace: self.kill_grace,
            output_limit: self.output_limit,
            overlay: place.mount().cloned(),
        };
        let stdout_copy = prepared.report.stdout_copy.clone();
        let reads_console = prepared.report.reads_console();
        let progress_file = prepared.report.progress_file().map(Path::to_path_buf);
        let result = run_process_teeing(&spec, cancel, stdout_copy.as_deref()).await;
        // The report and the progress file live in the place's scratch folder: read them
        // before leaving.
        let (mut tests, readable_stdout) = prepared
            .collect(place.cwd(), place.written(), self.output_limit)
            .await;
        // Only a run killed at the timeout needs to know which test was running.
        let timed_out = matches!(&result, Ok(output) if output.outcome == RunOutcome::TimedOut);
        let progress = match &progress_file {
            Some(path) if timed_out => tokio::fs::read_to_string(path).await.ok(),
            _ => None,
        };
        place.leave().await;
        let output = result?;
        if reads_console && tests == TestReport::NotRequested {
            let results =
                console::parse(&format!("{}\n{}", output.stdout.text, output.stderr.text));
            // Even with no name in it: a passing run then counts its job's known tests as
            // passed.
            tests = TestReport::Console(results);
        }
        if output.outcome == RunOutcome::TimedOut {
            let running = progress
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(console::pytest_name)
                .or_else(|| console::running_test(&output.stdout.text));
            name_hung_test(&mut tests, running, self.timeout);
        }
        let keep = self.keep_passing_output || !output.outcome.passed();
        Ok(RunRecord {
            attempt: request.attempt,
            seed: request.seed,
            outcome: output.outcome,
            duration: output.duration,
            hash_seed,
            server,
            tests,
            stdout: if keep {
                readable_stdout.unwrap_or(output.stdout)
            } else {
                Captured::default()
            },
            stderr: if keep {
                output.stderr
            } else {
                Captured::default()
            },
        })
    }

    /// The run was killed at the timeout: the test still running is marked as the one that
    /// hung (`running`, or the tests a streaming report left unfinished).
    fn env_for(&self, request: RunRequest, place: &RunPlace) -> Vec<(String, String)> {
        let mut env = place.env(&self.env);
        env.set("ATTEMPT", request.attempt.to_string());
        env.set("FLAKY_RUN_INDEX", request.attempt.to_string());
        for (name, value) in seed_env(self.framework, request.seed) {
            env.set(name, value);
        }
        env.build()
    }
}

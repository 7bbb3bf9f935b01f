//! One seeded run of the test command ([`RunTemplate::run`]): its own scratch directory,
//! TMPDIR and cache folders, its seed in the environment, and a [`RunRecord`] as the result.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::capture::Captured;
use super::process::{ProcessSpec, RunOutcome, RunnerError, run_process};
use crate::config::Isolation;
use crate::framework::seed::seed_args;
use crate::framework::{Framework, seed::seed_env};

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
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub attempt: u32,
    pub seed: u64,
    pub outcome: RunOutcome,
    pub duration: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl RunTemplate {
    /// Runs once with `request`'s seed. Only a failure to start is an `Err`.
    pub async fn run(
        &self,
        request: RunRequest,
        cancel: &CancellationToken,
    ) -> Result<RunRecord, RunnerError> {
        let run_dir = self.scratch.join(format!("run-{}", request.attempt));
        let tmp = run_dir.join("tmp");
        let cache = run_dir.join("cache");
        for dir in [&tmp, &cache] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| RunnerError::RunDir {
                    path: dir.clone(),
                    source,
                })?;
        }
        let spec = ProcessSpec {
            program: self.argv[0].clone(),
            args: [&self.argv[1..], &seed_args(&self.argv, request.seed)[..]].concat(),
            cwd: self.checkout.clone(),
            env: self.env_for(request, &tmp, &cache),
            timeout: self.timeout,
            kill_grace: self.kill_grace,
            output_limit: self.output_limit,
        };
        let result = run_process(&spec, cancel).await;
        if !self.preserve {
            let _ = tokio::fs::remove_dir_all(&run_dir).await;
        }
        let output = result?;
        let keep = self.keep_passing_output || !output.outcome.passed();
        Ok(RunRecord {
            attempt: request.attempt,
            seed: request.seed,
            outcome: output.outcome,
            duration: output.duration,
            stdout: if keep {
                output.stdout
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

    fn env_for(
        &self,
        request: RunRequest,
        tmp: &std::path::Path,
        cache: &std::path::Path,
    ) -> Vec<(String, String)> {
        let mut env = super::env::EnvBuilder::new(self.env.clone());
        let tmp = tmp.display().to_string();
        for name in ["TMPDIR", "TMP", "TEMP"] {
            env.set(name, tmp.clone());
        }
        env.set("XDG_CACHE_HOME", cache.display().to_string());
        env.set("ATTEMPT", request.attempt.to_string());
        env.set("FLAKY_RUN_INDEX", request.attempt.to_string());
        for (name, value) in seed_env(self.framework, request.seed) {
            env.set(name, value);
        }
        env.build()
    }
}

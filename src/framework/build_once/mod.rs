//! Build once, run many (`build_once: auto`): the fixed cost of a test command (compiling
//! `go test`'s binaries, Cargo's build check) is paid once per job, and each seeded run then
//! starts the prepared test binaries directly ([`BuiltRuns::invocation`]). Anything the
//! translation does not understand leaves the job on plain runs, and the summary says why
//! ([`prepare`]'s second value). Reproduce lines always stay the plain command.

pub use super::go::build_once as go;
pub use super::python::build_once as pytest;
pub use super::rust::build_once as cargo;
pub(in crate::framework) mod script;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::job::BuildOnce;

use super::adapter::ADAPTERS;
use crate::errors::one_line;
use crate::process::{ProcessSpec, run_process};

/// What one run starts instead of the plain command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
}

/// Test binaries built once for a job, ready to be started per run.
#[derive(Debug, Clone)]
pub enum BuiltRuns {
    Go(go::GoBuilt),
    Cargo(cargo::CargoBuilt),
    Pytest(pytest::PytestBuilt),
}

impl BuiltRuns {
    /// What a run starts, given the run's prepared command (report and shuffle flags already
    /// in it) and the root of the run's copy of the checkout. `None` when this run's command
    /// cannot be translated, or needs a [`pytest::Lease`] it was not given; the run then
    /// starts the plain command.
    pub fn invocation(
        &self,
        argv: &[String],
        root: &Path,
        lease: Option<&pytest::Lease>,
    ) -> Option<Invocation> {
        match self {
            BuiltRuns::Go(built) => built.invocation(argv, root),
            BuiltRuns::Cargo(built) => built.invocation(argv, root),
            BuiltRuns::Pytest(built) => built.invocation(argv, root, lease),
        }
    }

    /// What the run with `seed` holds while it runs: a pytest fork server. `None` for
    /// binaries, which need nothing held.
    pub async fn lease(&self, attempt: u32, seed: u64) -> Option<pytest::Lease> {
        match self {
            BuiltRuns::Pytest(built) => built.lease(attempt, seed).await,
            BuiltRuns::Go(_) | BuiltRuns::Cargo(_) => None,
        }
    }

    /// True when runs share a process's state (a fork server's imports, hash seed and
    /// address layout), so what a fresh process would see must be checked, not assumed.
    /// Built test binaries start a fresh process per run.
    pub fn shares_process_state(&self) -> bool {
        self.shared_process().is_some()
    }

    /// What the runs share a process's state through, named for the summary's warnings,
    /// so the pipeline can say it without knowing the language; `None` when runs start a
    /// fresh process each.
    pub fn shared_process(&self) -> Option<&'static str> {
        match self {
            BuiltRuns::Pytest(_) => Some("the pytest fork server"),
            BuiltRuns::Go(_) | BuiltRuns::Cargo(_) => None,
        }
    }

    /// The mode for the summary (`build_once: "go test binary"`).
    pub fn describe(&self) -> String {
        match self {
            BuiltRuns::Go(built) => built.describe(),
            BuiltRuns::Cargo(built) => built.describe(),
            BuiltRuns::Pytest(built) => built.describe(),
        }
    }
}

/// What building needs from the job.
pub struct BuildContext<'a> {
    pub argv: &'a [String],
    /// The runs' environment (without the per-run seed variables).
    pub env: &'a [(String, String)],
    pub checkout: &'a Path,
    /// Where the binaries go: outside the checkout, so run copies do not carry them.
    pub out_dir: &'a Path,
    pub timeout: Duration,
    pub cancel: &'a CancellationToken,
}

/// Builds the command's test binaries once when `mode` allows and the command is one we
/// translate. The second value is the mode for the summary: what was built, or
/// `off: <reason>` when the runs are plain.
pub async fn prepare(mode: BuildOnce, ctx: &BuildContext<'_>) -> (Option<BuiltRuns>, String) {
    if mode == BuildOnce::Off {
        return (None, "off: build_once is off".into());
    }
    let built = match ADAPTERS.iter().find_map(|adapter| adapter.build_once(ctx)) {
        Some(build) => build.await,
        None => Err("the command is not `go test`, `cargo test` or plain pytest".into()),
    };
    match built {
        Ok(built) => {
            let mode = built.describe();
            (Some(built), mode)
        }
        Err(reason) => (None, format!("off: {reason}")),
    }
}

/// Whether build-once in `mode` would run a build step for `argv` in the checkout, outside
/// any overlay, so a borrowed directory must be copied first: `cargo test --no-run` writes
/// `target/` and `Cargo.lock` there and runs the repository's build scripts (issue 21,
/// finding 3). `go test -c` writes only to Go's cache and the job's folder, and the pytest
/// fork server executes nothing of the checkout.
pub fn builds_in_checkout(mode: BuildOnce, argv: &[String]) -> bool {
    mode != BuildOnce::Off
        && ADAPTERS
            .iter()
            .any(|adapter| adapter.builds_in_checkout(argv))
}

/// What a build step printed, as the reason for falling back.
#[derive(Debug)]
pub(crate) struct StepOutput {
    pub stdout: String,
}

/// Runs one build step with the job's environment, under the build timeout and the job's
/// cancellation, in its own process group like every other child.
pub(crate) async fn step(
    ctx: &BuildContext<'_>,
    program: &str,
    args: Vec<String>,
    what: &str,
) -> Result<StepOutput, String> {
    let spec = ProcessSpec {
        program: crate::framework::install::find_on_path(ctx.env, program)
            .unwrap_or_else(|| program.to_string()),
        arg0: None,
        args,
        cwd: ctx.checkout.to_path_buf(),
        env: ctx.env.to_vec(),
        timeout: ctx.timeout,
        kill_grace: Duration::from_secs(2),
        output_limit: 8 * 1024 * 1024,
        overlay: None,
    };
    let output = run_process(&spec, ctx.cancel)
        .await
        .map_err(|e| format!("{what}: {}", one_line(&e)))?;
    if !output.outcome.passed() {
        let stderr = &output.stderr.text;
        let first = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no output");
        return Err(format!("{what} failed ({first})"));
    }
    Ok(StepOutput {
        stdout: output.stdout.text,
    })
}

/// `path` relative to `root`, when it lies inside it.
pub(crate) fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root).ok().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileConfig;

    #[test]
    fn the_file_takes_auto_or_off_and_names_the_key_on_anything_else() {
        let config = FileConfig::parse("build_once: off\n").expect("parsed");
        assert_eq!(config.knobs.build_once, Some(BuildOnce::Off));
        let config = FileConfig::parse("build_once: auto\n").expect("parsed");
        assert_eq!(config.knobs.build_once, Some(BuildOnce::Auto));
        let error = FileConfig::parse("build_once: sometimes\n").expect_err("refused");
        assert!(error.to_string().contains("build_once"), "{error}");
    }

    #[tokio::test]
    async fn off_and_untranslatable_commands_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let argv: Vec<String> = vec!["make".into(), "test".into()];
        let ctx = BuildContext {
            argv: &argv,
            env: &[],
            checkout: dir.path(),
            out_dir: dir.path(),
            timeout: Duration::from_secs(5),
            cancel: &cancel,
        };
        let (built, mode) = prepare(BuildOnce::Off, &ctx).await;
        assert!(built.is_none());
        assert_eq!(mode, "off: build_once is off");
        let (built, mode) = prepare(BuildOnce::Auto, &ctx).await;
        assert!(built.is_none());
        assert_eq!(
            mode,
            "off: the command is not `go test`, `cargo test` or plain pytest"
        );
    }
}

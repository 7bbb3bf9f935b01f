//! One child process from spawn to [`RunOutcome`]: its own process group, a deadline, bounded
//! output, and the whole group (grandchildren included) killed on timeout, cancel or exit.
//! Used for test runs and for dependency installs alike.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::HeldOverlay;
use super::capture::{Capture, Captured};
use super::enter::spawn_in;

/// How long the pipes may stay open once the leader has exited and its group was killed.
/// Only a grandchild that moved to another session can hold them that long.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
/// On cancel the grace is shorter than on timeout: a stop order must take effect in seconds.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// What to run and within which limits. `env` is the complete environment: nothing of the
/// caller's leaks in.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    /// What the child sees as `argv[0]` when `program` was resolved to a full path (the name
    /// the user wrote, so usage messages and multi-call binaries behave as in a shell).
    pub arg0: Option<String>,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub kill_grace: Duration,
    pub output_limit: usize,
    /// An overlay mount the child enters before `exec` (runs isolated by overlay).
    pub overlay: Option<std::sync::Arc<HeldOverlay>>,
}

/// How a process ended. A failing, crashing or hanging test is data, never an `Err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunOutcome {
    Passed,
    Failed { exit_code: i32 },
    Signalled { signal: i32 },
    TimedOut,
    Cancelled,
}

impl RunOutcome {
    pub fn passed(self) -> bool {
        self == RunOutcome::Passed
    }

    pub fn exit_code(self) -> Option<i32> {
        match self {
            RunOutcome::Passed => Some(0),
            RunOutcome::Failed { exit_code } => Some(exit_code),
            _ => None,
        }
    }

    fn from_status(status: ExitStatus) -> RunOutcome {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => RunOutcome::Passed,
            (Some(exit_code), _) => RunOutcome::Failed { exit_code },
            (None, Some(signal)) => RunOutcome::Signalled { signal },
            (None, None) => RunOutcome::Failed { exit_code: -1 },
        }
    }
}

/// How a process ended, in the words a user reads (`exited with status 1`, `was killed by
/// signal 9`): summaries and errors never show the enum's debug form.
impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunOutcome::Passed => f.write_str("exited with status 0"),
            RunOutcome::Failed { exit_code } => write!(f, "exited with status {exit_code}"),
            RunOutcome::Signalled { signal } => write!(f, "was killed by signal {signal}"),
            RunOutcome::TimedOut => f.write_str("hit the timeout"),
            RunOutcome::Cancelled => f.write_str("was cancelled"),
        }
    }
}

/// What a process left behind.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub outcome: RunOutcome,
    pub duration: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
}

/// Why a process could not be started at all (as opposed to starting and failing).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("command `{program}` was not found (is it installed and on PATH?)")]
    NotFound { program: String },
    #[error("command `{program}` is not executable")]
    NotExecutable { program: String },
    #[error("cannot start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot wait for `{program}`")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot choose how to isolate runs: {0}")]
    Isolation(String),
    #[error("cannot prepare run directory {}", path.display())]
    RunDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `spec` to completion, timeout or cancellation.
///
/// States: *running* (draining both pipes while waiting for the leader), *terminating*
/// (SIGTERM sent to the group on deadline or cancel; SIGKILL once the grace is over),
/// *exited* (leader reaped; the group is SIGKILLed so no grandchild outlives the run, and the
/// pipes are drained until EOF or [`DRAIN_AFTER_EXIT`]). Draining in the same `select!` as the
/// wait is what keeps a chatty child from blocking on a full pipe.
pub async fn run_process(
    spec: &ProcessSpec,
    cancel: &CancellationToken,
) -> Result<ProcessOutput, RunnerError> {
    run_process_teeing(spec, cancel, None).await
}

/// [`run_process`], with every byte of stdout also written to `stdout_copy` when given:
/// for runners whose report *is* their stdout (`go test -json`), which the bounded capture
/// would cut. A copy that cannot be written is abandoned; the run goes on regardless.
pub async fn run_process_teeing(
    spec: &ProcessSpec,
    cancel: &CancellationToken,
    stdout_copy: Option<&std::path::Path>,
) -> Result<ProcessOutput, RunnerError> {
    let mut copy = match stdout_copy {
        Some(path) => tokio::fs::File::create(path)
            .await
            .ok()
            .map(tokio::io::BufWriter::new),
        None => None,
    };
    let mut command = Command::new(&spec.program);
    if let Some(arg0) = &spec.arg0 {
        command.arg0(arg0);
    }
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let started = Instant::now();
    let spawned = match spec.overlay.clone() {
        Some(overlay) => spawn_in(overlay, command).await,
        None => command.spawn(),
    };
    let mut child = spawned.map_err(|source| spawn_error(spec, source))?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out = Capture::new(spec.output_limit);
    let mut err = Capture::new(spec.output_limit);
    let mut out_buf = vec![0u8; 8192];
    let mut err_buf = vec![0u8; 8192];

    let deadline = started + spec.timeout;
    let far = started + Duration::from_secs(86_400 * 365);
    let mut status: Option<ExitStatus> = None;
    let mut exited_at = started;
    let mut stopped: Option<RunOutcome> = None;
    let mut kill_at: Option<Instant> = None;
    let mut drain_until: Option<Instant> = None;

    while status.is_none() || stdout.is_some() || stderr.is_some() {
        tokio::select! {
            n = read_some(&mut stdout, &mut out_buf) => match n {
                Some(n) => {
                    out.push(&out_buf[..n]);
                    if let Some(file) = &mut copy
                        && file.write_all(&out_buf[..n]).await.is_err()
                    {
                        copy = None;
                    }
                }
                None => stdout = None,
            },
            n = read_some(&mut stderr, &mut err_buf) => match n {
                Some(n) => err.push(&err_buf[..n]),
                None => stderr = None,
            },
            waited = child.wait(), if status.is_none() => {
                let waited = waited.map_err(|source| RunnerError::Wait {
                    program: spec.program.clone(),
                    source,
                })?;
                status = Some(waited);
                exited_at = Instant::now();
                signal_group(group, Signal::SIGKILL);
                drain_until = Some(exited_at + DRAIN_AFTER_EXIT);
            }
            _ = sleep_until(deadline), if status.is_none() && stopped.is_none() => {
                stopped = Some(RunOutcome::TimedOut);
                signal_group(group, Signal::SIGTERM);
                kill_at = Some(Instant::now() + spec.kill_grace);
            }
            _ = cancel.cancelled(), if status.is_none() && stopped.is_none() => {
                stopped = Some(RunOutcome::Cancelled);
                signal_group(group, Signal::SIGTERM);
                kill_at = Some(Instant::now() + spec.kill_grace.min(CANCEL_GRACE));
            }
            _ = sleep_until(kill_at.unwrap_or(far)), if status.is_none() && kill_at.is_some() => {
                signal_group(group, Signal::SIGKILL);
                kill_at = None;
            }
            _ = sleep_until(drain_until.unwrap_or(far)), if drain_until.is_some() => break,
        }
    }

    if let Some(mut file) = copy {
        let _ = file.flush().await;
    }
    let outcome = match (stopped, status) {
        (Some(stopped), _) => stopped,
        (None, Some(status)) => RunOutcome::from_status(status),
        (None, None) => unreachable!("the loop only ends once the leader has exited"),
    };
    Ok(ProcessOutput {
        outcome,
        duration: exited_at - started,
        stdout: out.finish(),
        stderr: err.finish(),
    })
}

/// Reads once from a pipe; `None` at EOF or on a read error (the stream is then done).
/// A closed pipe never resolves, so its `select!` branch simply stays quiet.
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(reader) => match reader.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// Signals the whole process group. ESRCH (the group is already gone) is the normal case
/// after an exit and is not worth reporting.
fn signal_group(group: Option<Pid>, signal: Signal) {
    if let Some(group) = group {
        let _ = killpg(group, signal);
    }
}

fn spawn_error(spec: &ProcessSpec, source: std::io::Error) -> RunnerError {
    let program = spec.program.clone();
    match source.kind() {
        std::io::ErrorKind::NotFound => RunnerError::NotFound { program },
        std::io::ErrorKind::PermissionDenied => RunnerError::NotExecutable { program },
        _ => RunnerError::Spawn { program, source },
    }
}

//! The command-line front end: `run` ([`run`]), the RunPod-style local test
//! ([`local_test`]), the terminal progress bar ([`progress`]), the five-second summary
//! ([`human`]), the history views ([`history`], [`dashboard`]), and the CI commands:
//! [`submit`] (a job sent to an endpoint) and [`report`] (a summary sent to GitHub, Slack,
//! Discord); and the RunPod front ends' own commands, [`worker`] and [`serve`].
//! Like every front end it builds a `Job` and calls `detect()`, nothing more.

pub mod dashboard;
pub mod error;
pub mod history;
pub mod human;
pub mod init;
pub mod job_flags;
pub mod local_test;
pub mod proc_table;
pub mod progress;
pub mod quarantine;
pub mod report;
pub mod run;
pub mod seconds;
pub mod secret_file;
pub mod serve;
pub mod submit;
pub mod triage;
pub mod verify_fix;
pub mod worker;

use tokio_util::sync::CancellationToken;

/// Exit statuses shared by every subcommand; documented in `--help` and README.
pub mod exit {
    /// The job ran (and, with `--fail-on`, stayed below the threshold).
    pub const OK: i32 = 0;
    /// The job could not run: bad input, clone failure, missing command, or a failed
    /// install (verdict `install-failed`, whose summary is still printed).
    pub const JOB_ERROR: i32 = 1;
    /// Command-line usage error (clap's own).
    pub const USAGE: i32 = 2;
    /// The job ran and its severity reached `--fail-on`.
    pub const SEVERITY: i32 = 3;
    /// Interrupted with Ctrl-C or SIGTERM.
    pub const INTERRUPTED: i32 = 130;
}

/// A token cancelled on the first Ctrl-C or SIGTERM (runs are killed, the finished ones are
/// reported); a second Ctrl-C SIGKILLs every run's process group and exits at once, so a run
/// that ignores SIGTERM cannot outlive the detector while it is still inside its grace.
pub fn cancel_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("\ninterrupted: stopping the runs (Ctrl-C again to quit at once)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            kill_child_groups();
            std::process::exit(exit::INTERRUPTED);
        }
    });
    token
}

/// SIGKILLs each direct child of this process and the process group it leads (every run,
/// install or git helper is spawned as a group leader), found in /proc. The runner's own
/// bookkeeping lives in tasks that `exit` would cut short, so the children are found from
/// the kernel's side instead.
fn kill_child_groups() {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    let me = std::process::id() as i32;
    let Ok(table) = proc_table::read() else {
        return;
    };
    for child in table.iter().filter(|entry| entry.parent == me) {
        let _ = killpg(Pid::from_raw(child.pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(child.pid), Signal::SIGKILL);
    }
}

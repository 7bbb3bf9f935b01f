//! The command-line front end: `run` ([`run`]), the RunPod-style local test
//! ([`local_test`]), the terminal progress bar ([`progress`]), the five-second summary
//! ([`human`]), the history views ([`history`], [`dashboard`]), and the CI commands:
//! [`submit`] (a job sent to an endpoint) and [`report`] (a summary sent to GitHub, Slack,
//! Discord). Like every front end it builds a `Job` and calls `detect()`, nothing more.

pub mod dashboard;
pub mod history;
pub mod human;
pub mod job_flags;
pub mod local_test;
pub mod progress;
pub mod report;
pub mod run;
pub mod submit;

use tokio_util::sync::CancellationToken;

/// Exit statuses shared by every subcommand; documented in `--help` and README.
pub mod exit {
    /// The job ran (and, with `--fail-on`, stayed below the threshold).
    pub const OK: i32 = 0;
    /// The job could not run: bad input, clone failure, missing command.
    pub const JOB_ERROR: i32 = 1;
    /// Command-line usage error (clap's own).
    pub const USAGE: i32 = 2;
    /// The job ran and its severity reached `--fail-on`.
    pub const SEVERITY: i32 = 3;
    /// Interrupted with Ctrl-C or SIGTERM.
    pub const INTERRUPTED: i32 = 130;
}

/// A token cancelled on the first Ctrl-C or SIGTERM (runs are killed, the finished ones are
/// reported); a second Ctrl-C exits at once.
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
            std::process::exit(exit::INTERRUPTED);
        }
    });
    token
}

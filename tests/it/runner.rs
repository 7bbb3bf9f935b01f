//! One process at a time through `process::run_process`, with real `sh` children: exit codes,
//! deadlines that take the whole process group down, grandchildren that hold the pipes, and
//! floods of output that must stay bounded.

use crate::support;
use crate::support::wait::ends;

use std::time::Duration;

use flaky_detector::process::{ProcessSpec, RunOutcome, run_process};
use tokio_util::sync::CancellationToken;

fn sh(script: &str, timeout: f64) -> ProcessSpec {
    ProcessSpec {
        program: "sh".into(),
        arg0: None,
        args: vec!["-c".into(), script.into()],
        cwd: std::env::temp_dir(),
        env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
        timeout: Duration::from_secs_f64(timeout),
        kill_grace: Duration::from_millis(300),
        output_limit: 16 * 1024,
        overlay: None,
    }
}

#[tokio::test]
async fn exit_status_becomes_the_outcome() {
    let never = CancellationToken::new();
    let ok = run_process(&sh("echo hi", 30.0), &never)
        .await
        .expect("runs");
    assert_eq!(ok.outcome, RunOutcome::Passed);
    assert_eq!(ok.stdout.text, "hi\n");
    let failed = run_process(&sh("echo oops >&2; exit 3", 30.0), &never)
        .await
        .expect("runs");
    assert_eq!(failed.outcome, RunOutcome::Failed { exit_code: 3 });
    assert_eq!(failed.stderr.text, "oops\n");
    let killed = run_process(&sh("kill -SEGV $$", 30.0), &never)
        .await
        .expect("runs");
    assert_eq!(killed.outcome, RunOutcome::Signalled { signal: 11 });
}

#[tokio::test]
async fn timeout_kills_the_group_including_a_grandchild_that_ignores_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("grandchild.pid");
    let slept = dir.path().join("slept");
    let script = format!(
        "sh -c 'trap \"\" TERM; echo $$ > {}; while :; do sleep 1; done' & trap '' TERM; sleep 60; touch {}",
        pid_file.display(),
        slept.display()
    );
    let spec = sh(&script, 1.0);
    let output = ends(
        "the timed-out run",
        run_process(&spec, &CancellationToken::new()),
    )
    .await
    .expect("runs");
    assert_eq!(output.outcome, RunOutcome::TimedOut);
    assert!(
        !slept.exists(),
        "the run ended after its script's `sleep 60`, not at its 1 s deadline"
    );
    let grandchild = support::read_pid(&pid_file);
    assert!(
        support::dies_within(grandchild, 5.0),
        "grandchild {grandchild} survived the timeout"
    );
}

#[tokio::test]
async fn a_background_grandchild_holding_stdout_does_not_hold_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("bg.pid");
    let slept = dir.path().join("slept");
    let script = format!(
        "(sleep 300; touch {}) & echo $! > {}; echo done",
        slept.display(),
        pid_file.display()
    );
    let spec = sh(&script, 300.0);
    let output = ends("the run", run_process(&spec, &CancellationToken::new()))
        .await
        .expect("runs");
    assert_eq!(output.outcome, RunOutcome::Passed);
    assert!(output.stdout.text.contains("done"));
    assert!(
        !slept.exists(),
        "the run waited for its grandchild's `sleep 300`"
    );
    let background = support::read_pid(&pid_file);
    assert!(
        support::dies_within(background, 5.0),
        "stray grandchild {background} left running"
    );
}

#[tokio::test]
async fn a_grandchild_in_another_session_is_left_behind_without_blocking() {
    // setsid moves it out of our process group: we cannot kill it, but must not wait on it.
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("escaped.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > {}; exec sleep 300' & sleep 0.2; echo done",
        pid_file.display()
    );
    let spec = sh(&script, 300.0);
    let output = ends("the run", run_process(&spec, &CancellationToken::new()))
        .await
        .expect("runs");
    let escaped = support::read_pid(&pid_file);
    // Still running when the run ended: the run did not wait for it.
    let waited = !support::alive(escaped);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(escaped),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(output.outcome, RunOutcome::Passed);
    assert!(output.stdout.text.contains("done"));
    assert!(
        !waited,
        "the run waited for {escaped}, its grandchild in another session"
    );
}

#[tokio::test]
async fn a_flood_of_output_is_kept_as_head_and_tail() {
    let script = "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo last-line";
    let output = run_process(&sh(script, 60.0), &CancellationToken::new())
        .await
        .expect("runs");
    assert_eq!(output.outcome, RunOutcome::Passed);
    assert!(output.stdout.truncated_bytes > 1_000_000);
    assert!(
        output.stdout.text.len() < 17 * 1024,
        "kept {} bytes",
        output.stdout.text.len()
    );
    assert!(output.stdout.text.trim_end().ends_with("last-line"));
}

#[tokio::test]
async fn cancel_kills_the_group_within_two_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("child.pid");
    let slept = dir.path().join("slept");
    let script = format!(
        "sleep 300 & echo $! > {}; wait; touch {}",
        pid_file.display(),
        slept.display()
    );
    let cancel = CancellationToken::new();
    let spec = sh(&script, 300.0);
    let task = {
        let cancel = cancel.clone();
        tokio::spawn(async move { run_process(&spec, &cancel).await })
    };
    let sleeper = tokio::task::spawn_blocking(move || support::read_pid(&pid_file))
        .await
        .expect("pid read");
    cancel.cancel();
    let output = ends("the cancelled run", task)
        .await
        .expect("joins")
        .expect("runs");
    assert_eq!(output.outcome, RunOutcome::Cancelled);
    assert!(
        !slept.exists(),
        "the cancelled run waited for its child's `sleep 300`"
    );
    assert!(support::dies_within(sleeper, 2.0));
}

#[tokio::test]
async fn a_missing_program_is_an_error_not_an_outcome() {
    let mut spec = sh("", 5.0);
    spec.program = "no-such-program-for-flaky-detector".into();
    let error = run_process(&spec, &CancellationToken::new())
        .await
        .expect_err("cannot start");
    assert_eq!(
        error.to_string(),
        "command `no-such-program-for-flaky-detector` was not found (is it installed and on PATH?)"
    );
}

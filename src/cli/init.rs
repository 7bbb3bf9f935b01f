//! PID 1 duties. In a container the entry point (`run.sh`) execs the binary as the first
//! process, and every orphan in the container is reparented to it: a test that leaves a
//! background `sleep` behind would stay a zombie for good. Reaping with `waitpid(-1)` inside
//! the detector would steal the exit statuses tokio waits for, so as PID 1 the binary
//! forks first: the parent is a tiny init (reaps everything, forwards signals, exits with
//! the detector's status) and the child is the detector, untouched.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

/// Signals the init passes on to the detector.
const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// When this process is PID 1, forks: returns in the child (the detector), and never
/// returns in the parent (the init). Must run before any thread exists (before the tokio
/// runtime), since only the forking thread survives a fork.
pub fn supervise_if_pid1() {
    if std::process::id() != 1 {
        return;
    }
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for signal in FORWARDED {
        set.add(signal);
    }
    // Blocked before the fork so no signal is lost between the fork and the wait loop.
    let mut previous = SigSet::empty();
    if sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut previous)).is_err() {
        return;
    }
    // SAFETY: called from `main` before the runtime starts, so this process has one thread
    // and the child may run any code.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
        }
        Ok(ForkResult::Parent { child }) => init(child, &set),
        Err(error) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
            eprintln!("warning: cannot fork an init process ({error}); orphans will not be reaped");
        }
    }
}

/// Waits for signals: forwards the forwardable ones to `child`, reaps every exited process
/// on SIGCHLD, and exits as the detector did once it is gone.
fn init(child: Pid, set: &SigSet) -> ! {
    loop {
        let Ok(signal) = set.wait() else {
            continue;
        };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                    std::process::exit(128 + signal as i32)
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => {}
                // ECHILD: nothing left at all, the detector included.
                Err(_) => std::process::exit(1),
            }
        }
    }
}

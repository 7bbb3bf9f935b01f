//! The real `flaky-detector` binary as a child process (worker or server), with its own
//! scratch, cache and spool directories and its output captured to files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::PATIENCE;

pub use crate::support::BIN;

/// A running binary. Killed (SIGKILL) on drop if still running.
pub struct Process {
    child: Child,
    pub dir: TempDir,
}

impl Process {
    /// Starts the binary with `args` and `env` on a clean environment (PATH and HOME kept),
    /// scratch and cache dirs in its own temp dir.
    pub fn spawn(args: &[&str], env: &[(String, String)]) -> Process {
        Process::spawn_program(BIN, args, env)
    }

    /// Same as [`Process::spawn`] for another program (a script that starts the binary).
    pub fn spawn_program(program: &str, args: &[&str], env: &[(String, String)]) -> Process {
        let dir = tempfile::tempdir().expect("temp dir for the process");
        let stdout = std::fs::File::create(dir.path().join("stdout")).expect("stdout file");
        let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("FLAKY_WORK_DIR", dir.path().join("work"))
            .env("FLAKY_CACHE_DIR", dir.path().join("cache"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("FLAKY_DB", dir.path().join("history.db"))
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = command.spawn().expect("start flaky-detector");
        Process { child, dir }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.path("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    pub fn sigterm(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("signal the child");
    }

    /// Waits for the exit, polling so the async test's runtime stays free.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "the process did not exit; stderr:\n{}\nstdout:\n{}",
                    self.stderr(),
                    self.stdout()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the child")
    }

    /// Waits until stdout has a line `listening on http://ADDR` and returns the base URL.
    pub async fn listening_url(&self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self
                .stdout()
                .lines()
                .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
            {
                return line.trim().to_string();
            }
            if Instant::now() > deadline {
                panic!(
                    "the server never said where it listens; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A spool directory inside `dir`.
pub fn spool_in(dir: &Path) -> PathBuf {
    dir.join("spool")
}

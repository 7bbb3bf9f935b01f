//! pytest built once: a fork server. A server process, started from the run's virtualenv
//! python, imports pytest and the repository's third-party dependencies once
//! (`pytest_server.py` says what it imports and when it refuses); each run then starts a
//! small client (`pytest_client.py`) as the run's process, which hands the run's argv, cwd,
//! environment, process group and stdio to the server. The server forks a child that joins
//! the client's process group and calls pytest's main, so the runner's timeout, tree kill,
//! output capture and JUnit report work as for a plain run.
//!
//! `PYTHONHASHSEED` is fixed when an interpreter starts, so every child of a server has the
//! server's hash seed. A server is started for a run with that run's plain hash seed and
//! serves at most [`RESTART_EVERY`] runs before a new one is started, so hash-order
//! flakiness is still explored; each run records the hash seed it really had
//! ([`Lease::hash_seed`]) for its reproduce line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::framework::build_once::{BuildContext, Invocation};
use crate::framework::install::find_on_path;

/// The server, shipped inside the binary.
const SERVER: &str = include_str!("pytest_server.py");
/// The per-run client, shipped inside the binary.
const CLIENT: &str = include_str!("pytest_client.py");
/// Runs a server serves before it is replaced by one with another hash seed. Whatever a
/// server fixed when it started (its hash seed, its address layout, values its imports drew)
/// is shared by the runs it serves, so its runs are one sample of that state: more, shorter
/// lived servers give the job more independent samples, and a test whose outcome follows
/// that state shows up as runs that agree within a server and differ across servers.
pub const RESTART_EVERY: u32 = 6;
/// One run in this many (attempts 3, 7, 11, …) is a fresh process: the control the job
/// compares the forked runs with (`analysis::frozen`).
pub const CONTROL_EVERY: u32 = 4;

/// A pytest command taken apart: the interpreter that runs it and pytest's own arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PytestCommand {
    /// The virtualenv python (the `pytest` script's interpreter, or the `python` of
    /// `python -m pytest`).
    pub python: String,
    /// `python -m pytest` (pytest then sees the working directory first on `sys.path`).
    pub module: bool,
    /// The `pytest` script's path (its folder comes first on `sys.path`); empty with `-m`.
    pub script: String,
    pub args: Vec<String>,
}

/// True when the command starts pytest directly: `pytest …`, `py.test …`,
/// `python -m pytest …`.
pub fn is_pytest(argv: &[String]) -> bool {
    let name = |word: &String| word.rsplit('/').next().unwrap_or_default().to_string();
    match argv.first().map(name).as_deref() {
        Some("pytest" | "py.test") => true,
        Some(python) if python.starts_with("python") => {
            argv.get(1).is_some_and(|w| w == "-m") && argv.get(2).is_some_and(|w| w == "pytest")
        }
        _ => false,
    }
}

/// Takes a pytest command apart, finding its interpreter on the runs' `PATH`, or says why it
/// cannot be served.
pub fn parse(argv: &[String], env: &[(String, String)]) -> Result<PytestCommand, String> {
    if !is_pytest(argv) {
        return Err("the command is not plain pytest".into());
    }
    let found = |program: &str| {
        if program.contains('/') {
            Some(program.to_string())
        } else {
            find_on_path(env, program)
        }
    };
    let first = &argv[0];
    let located = found(first).ok_or_else(|| format!("`{first}` is not on the runs' PATH"))?;
    if argv.len() >= 3 && argv[1] == "-m" {
        return Ok(PytestCommand {
            python: located,
            module: true,
            script: String::new(),
            args: argv[3..].to_vec(),
        });
    }
    let python = script_python(Path::new(&located), &found)
        .or_else(|| {
            // Not a Python script (a pyenv shim, a wrapper): the virtualenv's python, which
            // is what the wrapper ends up running in a prepared job.
            let venv = env.iter().rev().find(|(k, _)| k == "VIRTUAL_ENV");
            venv.map(|(_, dir)| format!("{dir}/bin/python"))
                .filter(|python| Path::new(python).exists())
                .or_else(|| found("python3"))
        })
        .ok_or_else(|| format!("no python found to run `{located}`"))?;
    Ok(PytestCommand {
        python,
        module: false,
        script: located,
        args: argv[1..].to_vec(),
    })
}

/// The python a `pytest` script starts: its `#!` line (directly or through `env`), or the
/// path in pip's launcher for long paths (`#!/bin/sh`, then `'''exec' "/…/python" "$0" …`).
/// `None` when the script is not started by a python.
fn script_python(script: &Path, found: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let text = std::fs::read(script).ok()?;
    let mut lines = text.split(|b| *b == b'\n').map(String::from_utf8_lossy);
    let first = lines.next()?;
    let words: Vec<&str> = first.strip_prefix("#!")?.split_whitespace().collect();
    let python = match words.as_slice() {
        [env_program, program] if env_program.ends_with("/env") => found(program)?,
        [program] if program.ends_with("/sh") => {
            let second = lines.next()?;
            let rest = second.strip_prefix("'''exec' \"")?;
            rest.split('"').next()?.to_string()
        }
        [program] => program.to_string(),
        _ => return None,
    };
    let name = python.rsplit('/').next().unwrap_or_default();
    name.starts_with("python").then_some(python)
}

/// One running server.
#[derive(Debug)]
struct Server {
    /// Numbered in the order servers were started, from 0.
    id: u32,
    /// Killed when dropped; it also exits when its stdin (held here) closes.
    child: Child,
    socket: PathBuf,
    hash_seed: u32,
    runs: u32,
}

/// Fork servers for a job: idle ones wait in the pool, a run takes one ([`PytestBuilt::lease`]).
#[derive(Debug, Clone)]
pub struct PytestBuilt {
    command: PytestCommand,
    checkout: PathBuf,
    /// Where the servers' sockets and logs go.
    dir: PathBuf,
    /// The environment servers start with (the job's, without per-run variables).
    env: Vec<(String, String)>,
    start_timeout: Duration,
    pool: Arc<Mutex<Vec<Server>>>,
    started: Arc<AtomicU32>,
}

/// A server held by one run; it goes back to the pool when dropped (or away after
/// [`RESTART_EVERY`] runs).
#[derive(Debug)]
pub struct Lease {
    server: Option<Server>,
    pool: Arc<Mutex<Vec<Server>>>,
}

impl Lease {
    /// The `PYTHONHASHSEED` the run really has.
    pub fn hash_seed(&self) -> u32 {
        self.server.as_ref().map_or(0, |s| s.hash_seed)
    }

    /// Which server the run is forked from.
    pub fn server_id(&self) -> u32 {
        self.server.as_ref().map_or(0, |s| s.id)
    }

    fn socket(&self) -> Option<&Path> {
        self.server.as_ref().map(|s| s.socket.as_path())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.runs += 1;
            if server.runs < RESTART_EVERY && matches!(server.child.try_wait(), Ok(None)) {
                self.pool
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(server);
            }
        }
    }
}

/// Makes `dir` (and its parents), only its owner may enter it: the servers' sockets are in it,
/// and whoever connects to one has a test run as this user.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Checks that the command can be served by starting the job's first server (with a random
/// hash seed), which stays in the pool for the first run.
pub async fn build(ctx: &BuildContext<'_>) -> Result<PytestBuilt, String> {
    let command = parse(ctx.argv, ctx.env)?;
    let dir = ctx.out_dir.join("pytest");
    private_dir(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let built = PytestBuilt {
        command,
        checkout: ctx.checkout.to_path_buf(),
        dir,
        env: ctx.env.to_vec(),
        start_timeout: ctx.timeout,
        pool: Default::default(),
        started: Default::default(),
    };
    let first = tokio::select! {
        server = built.start(rand::random::<u32>()) => server?,
        () = ctx.cancel.cancelled() => return Err("cancelled".into()),
    };
    built
        .pool
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(first);
    Ok(built)
}

impl PytestBuilt {
    pub fn describe(&self) -> String {
        format!(
            "pytest fork server (a new server every {RESTART_EVERY} runs; one run in \
             {CONTROL_EVERY} a fresh process, to compare)"
        )
    }

    /// A server for run `attempt` with `seed`: an idle one, or a new one whose hash seed is
    /// this run's plain `PYTHONHASHSEED`. `None` for a control run (every
    /// [`CONTROL_EVERY`]th attempt) and when no server could be started: the run is then a
    /// fresh process.
    pub async fn lease(&self, attempt: u32, seed: u64) -> Option<Lease> {
        if attempt % CONTROL_EVERY == CONTROL_EVERY - 1 {
            return None;
        }
        let idle = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let server = match idle {
            Some(server) => server,
            None => match self.start((seed % (1 << 32)) as u32).await {
                Ok(server) => server,
                Err(reason) => {
                    tracing::warn!("pytest fork server not started, the run is plain: {reason}");
                    return None;
                }
            },
        };
        Some(Lease {
            server: Some(server),
            pool: self.pool.clone(),
        })
    }

    /// Starts a server with `hash_seed` and waits until it has imported what it shares.
    async fn start(&self, hash_seed: u32) -> Result<Server, String> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let socket = self.dir.join(format!("server-{n}.sock"));
        let log_path = self.dir.join(format!("server-{n}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot make {}: {e}", log_path.display()))?;
        let mut command = Command::new(&self.command.python);
        command
            .arg("-c")
            .arg(SERVER)
            .arg(&socket)
            .arg(&self.checkout)
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PYTHONHASHSEED", hash_seed.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            // Its own group, so a run's group kill never reaches it; the same session, so
            // its children may join a run's group.
            .process_group(0)
            .kill_on_drop(true);
        // It enters runs' mount namespaces, which runs themselves may not (see `seal`).
        let mut child = crate::process::seal::spawn_privileged(command)
            .await
            .map_err(|e| format!("cannot start {}: {e}", self.command.python))?;
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        let mut line = String::new();
        let read = tokio::time::timeout(
            self.start_timeout,
            BufReader::new(stdout).read_line(&mut line),
        )
        .await;
        match read {
            Ok(Ok(_)) if line.trim() == "ready" => Ok(Server {
                id: n,
                child,
                socket,
                hash_seed,
                runs: 0,
            }),
            Ok(Ok(_)) => match line.trim().strip_prefix("fallback: ") {
                Some(reason) => Err(reason.to_string()),
                None => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    let last = log.lines().rev().find(|l| !l.trim().is_empty());
                    Err(format!(
                        "the pytest fork server did not start ({})",
                        last.unwrap_or("no output").trim()
                    ))
                }
            },
            Ok(Err(e)) => Err(format!("reading the pytest fork server: {e}")),
            Err(_) => Err(format!(
                "the pytest fork server was not ready within {} s",
                self.start_timeout.as_secs()
            )),
        }
    }

    /// What a run starts: the client, with `lease`'s socket and pytest's arguments from the
    /// run's prepared command (report flags included). `None` when the run's command is not
    /// plain pytest or it has no server.
    pub fn invocation(
        &self,
        argv: &[String],
        root: &Path,
        lease: Option<&Lease>,
    ) -> Option<Invocation> {
        let socket = lease?.socket()?;
        let args = match argv
            .first()
            .map(|w| w.rsplit('/').next().unwrap_or_default())
        {
            Some(python) if python.starts_with("python") && is_pytest(argv) => argv[3..].to_vec(),
            Some("pytest" | "py.test") => argv[1..].to_vec(),
            _ => return None,
        };
        let mut words = vec![
            "-I".to_string(),
            "-S".into(),
            "-c".into(),
            CLIENT.into(),
            socket.display().to_string(),
            if self.command.module { "1" } else { "0" }.into(),
            self.command.script.clone(),
        ];
        words.extend(args);
        Some(Invocation {
            program: self.command.python.clone(),
            args: words,
            cwd: root.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn plain_pytest_commands_are_recognised_and_others_are_not() {
        for command in [
            "pytest -q",
            "py.test",
            "python -m pytest tests",
            "/v/bin/python3 -m pytest",
        ] {
            assert!(is_pytest(&words(command)), "{command}");
        }
        for command in [
            "make test",
            "python -X dev -m pytest",
            "uv run pytest",
            "python -m unittest",
        ] {
            assert!(!is_pytest(&words(command)), "{command}");
        }
    }

    #[test]
    fn the_pytest_scripts_interpreter_is_read_from_its_first_lines() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("pytest");
        let write = |text: &str| {
            std::fs::write(&script, text).expect("script");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        };
        let env = vec![("PATH".to_string(), dir.path().display().to_string())];
        write("#!/venv/bin/python3\nimport sys\n");
        let command = parse(&words("pytest -q tests"), &env).expect("parsed");
        assert_eq!(command.python, "/venv/bin/python3");
        assert_eq!(command.script, script.display().to_string());
        assert_eq!(command.args, words("-q tests"));
        // pip's launcher for interpreter paths too long for `#!`.
        write("#!/bin/sh\n'''exec' \"/a/long/venv/bin/python\" \"$0\" \"$@\"\n' '''\n");
        let command = parse(&words("pytest"), &env).expect("parsed");
        assert_eq!(command.python, "/a/long/venv/bin/python");
        let reason = parse(&words("make test"), &env).expect_err("refused");
        assert!(reason.contains("not plain pytest"), "{reason}");
    }
}

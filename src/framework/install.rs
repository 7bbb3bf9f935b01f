//! Dependency installation per framework, cached across jobs in the cache directory and keyed
//! by a hash of the dependency files, so a second job on the same repository skips it.
//! Python goes into a virtualenv of its own, never into the worker's interpreter. A failed
//! install is reported ([`InstallReport`]) and the runs still happen, as in the seed project.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::Framework;
use crate::process::env::EnvBuilder;
use crate::process::{ProcessSpec, RunOutcome, run_process};
use crate::workspace::copy::link_tree;

/// Bytes of install output kept in the report.
const OUTPUT_TAIL: usize = 2048;

/// What happened to the dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallStatus {
    /// Nothing to install (no dependency file for this framework).
    Skipped,
    /// `auto_install_dependencies: false`.
    Disabled,
    /// Restored from the cache.
    Cached,
    Installed,
    Failed,
}

impl fmt::Display for InstallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstallStatus::Skipped => "skipped",
            InstallStatus::Disabled => "disabled",
            InstallStatus::Cached => "cached",
            InstallStatus::Installed => "installed",
            InstallStatus::Failed => "failed",
        })
    }
}

/// The install step as it appears in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallReport {
    pub status: InstallStatus,
    pub framework: Framework,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
}

/// What the runs need from the install: PATH entries and variables.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub report: InstallReport,
    pub path_prefix: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
}

impl Prepared {
    /// Adds this install's PATH entries and variables to a run environment.
    pub fn apply(&self, env: &mut EnvBuilder) {
        env.prepend_path(self.path_prefix.iter().map(|p| p.display().to_string()));
        for (name, value) in &self.env {
            env.set(name.clone(), value.clone());
        }
    }
}

/// Where and how installs happen.
#[derive(Debug, Clone)]
pub struct InstallContext<'a> {
    pub framework: Framework,
    pub checkout: &'a Path,
    pub cache_dir: &'a Path,
    /// Environment for install commands (the worker's, minus secrets).
    pub env: &'a [(String, String)],
    pub timeout: Duration,
    pub enabled: bool,
    pub cancel: &'a CancellationToken,
}

/// Installs (or restores) the dependencies of `ctx.checkout`.
pub async fn install(ctx: &InstallContext<'_>) -> Prepared {
    let started = Instant::now();
    let mut prepared = if !ctx.enabled {
        skipped(ctx.framework, InstallStatus::Disabled, None)
    } else {
        match ctx.framework {
            Framework::Python => python(ctx).await,
            Framework::TypescriptJest
            | Framework::TypescriptVitest
            | Framework::JavascriptMocha => node(ctx).await,
            Framework::Go => go(ctx).await,
            Framework::Rust => rust(ctx).await,
            Framework::Unknown => skipped(
                ctx.framework,
                InstallStatus::Skipped,
                Some("no known dependency files".into()),
            ),
        }
    };
    prepared.report.duration_ms = started.elapsed().as_millis() as u64;
    prepared
}

fn skipped(framework: Framework, status: InstallStatus, detail: Option<String>) -> Prepared {
    Prepared {
        report: InstallReport {
            status,
            framework,
            command: None,
            duration_ms: 0,
            cache_key: None,
            detail,
            output_tail: None,
        },
        path_prefix: Vec::new(),
        env: Vec::new(),
    }
}

const PYTHON_REQUIREMENTS: [&str; 5] = [
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "dev-requirements.txt",
    "test-requirements.txt",
];
const PYTHON_PROJECT: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// Whether [`install`] would write into `checkout` or run anything there for `framework`:
/// false only where it is known to do nothing (no known framework, install disabled, or a
/// Python project without dependency files). A checkout used in place must not be written.
pub fn may_write(framework: Framework, checkout: &Path, enabled: bool) -> bool {
    match framework {
        Framework::Unknown => false,
        _ if !enabled => false,
        Framework::Python => {
            !present(checkout, &PYTHON_REQUIREMENTS).is_empty()
                || !present(checkout, &PYTHON_PROJECT).is_empty()
        }
        _ => true,
    }
}

/// A virtualenv per dependency-file hash, with access to the worker's site-packages (where
/// the image ships pytest). For a packaged project, `.` and `src` lead `PYTHONPATH`, so the
/// checkout's code shadows the copy installed with the cached dependencies.
async fn python(ctx: &InstallContext<'_>) -> Prepared {
    let requirements = present(ctx.checkout, &PYTHON_REQUIREMENTS);
    let project = present(ctx.checkout, &PYTHON_PROJECT);
    let (files, installs_project) = match (requirements.is_empty(), project.is_empty()) {
        (false, _) => (requirements, false),
        (true, false) => (project, true),
        (true, true) => {
            return skipped(
                Framework::Python,
                InstallStatus::Skipped,
                Some("no requirements.txt, pyproject.toml or setup.py".into()),
            );
        }
    };
    let uv = find_on_path(ctx.env, "uv");
    let key = cache_key(ctx.checkout, "python-v1", &files, uv.is_some());
    let venv = ctx.cache_dir.join("python").join(&key);
    let bin = venv.join("bin");
    let python = bin.join("python");
    let mut steps: Vec<Vec<String>> = Vec::new();
    let venv_arg = venv.display().to_string();
    match &uv {
        Some(uv) => {
            steps.push(vec![
                uv.clone(),
                "venv".into(),
                "--system-site-packages".into(),
                venv_arg,
            ]);
            let mut pip = vec![
                uv.clone(),
                "pip".into(),
                "install".into(),
                "--python".into(),
            ];
            pip.push(python.display().to_string());
            steps.push(pip);
        }
        None => {
            let host = find_on_path(ctx.env, "python3").unwrap_or_else(|| "python3".into());
            // Giving the virtualenv its own pip (ensurepip) is most of the cost of making it;
            // a host pip that installs into another interpreter makes that copy unneeded.
            // Probing pip costs a Python start: skip it when the cache already holds the venv.
            let cached = venv.join(".complete").exists();
            let lean = !cached && host_pip_targets_others(&host, ctx).await;
            let mut venv = vec![
                host.clone(),
                "-m".into(),
                "venv".into(),
                "--system-site-packages".into(),
            ];
            if lean {
                venv.push("--without-pip".into());
            }
            venv.push(venv_arg);
            steps.push(venv);
            let mut pip: Vec<String> = if lean {
                vec![
                    host,
                    "-m".into(),
                    "pip".into(),
                    "--python".into(),
                    python.display().to_string(),
                ]
            } else {
                vec![python.display().to_string(), "-m".into(), "pip".into()]
            };
            pip.extend(
                [
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--quiet",
                ]
                .map(String::from),
            );
            steps.push(pip);
        }
    }
    let last = steps.last_mut().expect("two steps were pushed");
    if installs_project {
        last.push(".".into());
    } else {
        for file in &files {
            last.extend(["-r".into(), file.clone()]);
        }
    }
    let mut env = vec![("VIRTUAL_ENV".to_string(), venv.display().to_string())];
    if installs_project {
        let mut pythonpath = vec![".".to_string()];
        if ctx.checkout.join("src").is_dir() {
            pythonpath.push("src".into());
        }
        env.push(("PYTHONPATH".into(), pythonpath.join(":")));
    }
    cached_install(ctx, &key, &venv, &steps, None, vec![bin], env).await
}

/// True when `host -m pip` can install into another interpreter (`pip --python`, pip 22.3 and
/// later). A host without pip, or with an older one, answers false and the virtualenv gets
/// its own pip.
async fn host_pip_targets_others(host: &str, ctx: &InstallContext<'_>) -> bool {
    let spec = ProcessSpec {
        program: host.to_string(),
        arg0: None,
        args: ["-m", "pip", "--version"].map(String::from).to_vec(),
        cwd: ctx.checkout.to_path_buf(),
        env: ctx.env.to_vec(),
        timeout: Duration::from_secs(30),
        kill_grace: Duration::from_secs(1),
        output_limit: 4096,
        overlay: None,
    };
    match run_process(&spec, ctx.cancel).await {
        Ok(output) if output.outcome.passed() => pip_supports_python_option(&output.stdout.text),
        _ => false,
    }
}

/// Reads `pip X.Y[.Z] from …` (the output of `pip --version`) and says whether X.Y is 22.3 or
/// later, the first pip with `--python`.
fn pip_supports_python_option(version_line: &str) -> bool {
    let Some(version) = version_line
        .split_whitespace()
        .skip_while(|word| *word != "pip")
        .nth(1)
    else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (22, 3),
        (Some(major), None) => major > 22,
        _ => false,
    }
}

/// `npm ci` (or `npm install` without a lockfile) once per lockfile; later jobs get the cached
/// `node_modules` hard-linked into their checkout.
async fn node(ctx: &InstallContext<'_>) -> Prepared {
    if !ctx.checkout.join("package.json").exists() {
        return skipped(
            ctx.framework,
            InstallStatus::Skipped,
            Some("no package.json".into()),
        );
    }
    let lockfile = ctx.checkout.join("package-lock.json").exists();
    let files = present(ctx.checkout, &["package.json", "package-lock.json"]);
    let key = cache_key(ctx.checkout, "node-v1", &files, false);
    let store = ctx.cache_dir.join("node").join(&key);
    let npm = find_on_path(ctx.env, "npm").unwrap_or_else(|| "npm".into());
    let verb = if lockfile { "ci" } else { "install" };
    // `--prefer-offline`: packages already in npm's cache are not revalidated, so a second
    // lockfile that shares most packages with a first installs without the network.
    let steps = vec![vec![
        npm,
        verb.into(),
        "--prefer-offline".into(),
        "--no-audit".into(),
        "--no-fund".into(),
        "--loglevel=error".into(),
    ]];
    let bin = ctx.checkout.join("node_modules").join(".bin");
    cached_install(
        ctx,
        &key,
        &store,
        &steps,
        Some("node_modules"),
        vec![bin],
        Vec::new(),
    )
    .await
}

/// `go mod download` into a module cache shared by every job (Go's cache is safe for
/// concurrent use and content-addressed), then the test binaries built once, so parallel
/// runs do not all compile the same packages against a cold build cache.
///
/// The runs get `-count=1` through `GOFLAGS`, because `go test` otherwise answers a repeated
/// run from its result cache (keyed on the variables the test read, so a replayed seed that
/// passed once would never run again), and `GOTOOLCHAIN=local`, because a worker cannot
/// download the toolchain a `go.mod` asks for. Flags the user put in `GOFLAGS` or on the
/// command line still apply (the command line wins over `GOFLAGS`).
async fn go(ctx: &InstallContext<'_>) -> Prepared {
    let go_root = ctx.cache_dir.join("go");
    let inherited = |name: &str| {
        ctx.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let goflags = match inherited("GOFLAGS") {
        Some(user) => format!("{user} -modcacherw -count=1"),
        None => "-modcacherw -count=1".to_string(),
    };
    let env = vec![
        (
            "GOMODCACHE".to_string(),
            go_root.join("mod").display().to_string(),
        ),
        (
            "GOCACHE".to_string(),
            go_root.join("build").display().to_string(),
        ),
        ("GOFLAGS".to_string(), goflags),
        (
            "GOTOOLCHAIN".to_string(),
            inherited("GOTOOLCHAIN").unwrap_or_else(|| "local".to_string()),
        ),
    ];
    if !ctx.checkout.join("go.mod").exists() {
        return skipped(
            Framework::Go,
            InstallStatus::Skipped,
            Some("no go.mod".into()),
        );
    }
    let files = present(ctx.checkout, &["go.mod", "go.sum"]);
    let key = cache_key(ctx.checkout, "go-v1", &files, false);
    let marker_dir = go_root.join("downloaded").join(&key);
    let go = find_on_path(ctx.env, "go").unwrap_or_else(|| "go".into());
    // `-exec=true` builds every test binary of the module (filling the shared build cache)
    // and hands it to `true` instead of running it, so no test code runs at install time.
    let steps = vec![
        vec![go.clone(), "mod".into(), "download".into()],
        vec![go, "test".into(), "-exec=true".into(), "./...".into()],
    ];
    cached_install(ctx, &key, &marker_dir, &steps, None, Vec::new(), env).await
}

/// `cargo fetch`, then `cargo test --no-run`, once per lockfile into a target directory kept
/// per lockfile. Building the tests here, under the install timeout, keeps the build out of
/// the runs: otherwise every parallel run waits on Cargo's build lock while its own timeout
/// runs. `cargo nextest run` builds the same test profile, so it reuses these artifacts.
async fn rust(ctx: &InstallContext<'_>) -> Prepared {
    let files = present(ctx.checkout, &["Cargo.toml", "Cargo.lock"]);
    if files.is_empty() {
        return skipped(
            Framework::Rust,
            InstallStatus::Skipped,
            Some("no Cargo.toml".into()),
        );
    }
    let key = cache_key(ctx.checkout, "rust-v1", &files, false);
    let store = ctx.cache_dir.join("rust").join(&key);
    let env = vec![(
        "CARGO_TARGET_DIR".to_string(),
        store.join("target").display().to_string(),
    )];
    let cargo = find_on_path(ctx.env, "cargo").unwrap_or_else(|| "cargo".into());
    let steps = vec![
        vec![cargo.clone(), "fetch".into()],
        vec![cargo, "test".into(), "--no-run".into()],
    ];
    cached_install(ctx, &key, &store, &steps, None, Vec::new(), env).await
}

/// Runs `steps` once per `key` under a file lock, so two jobs on the same repository install
/// once; `store` gets a `.complete` marker only after every step succeeded. With
/// `link_back`, the named folder of the checkout is saved into `store` after the install and
/// hard-linked back into the checkout of later jobs.
async fn cached_install(
    ctx: &InstallContext<'_>,
    key: &str,
    store: &Path,
    steps: &[Vec<String>],
    link_back: Option<&str>,
    path_prefix: Vec<PathBuf>,
    env: Vec<(String, String)>,
) -> Prepared {
    let mut report = InstallReport {
        status: InstallStatus::Installed,
        framework: ctx.framework,
        command: Some(command_line(steps)),
        duration_ms: 0,
        cache_key: Some(key.to_string()),
        detail: None,
        output_tail: None,
    };
    match install_once(ctx, store, steps, link_back, &env).await {
        Ok(status) => {
            report.status = status;
            Prepared {
                report,
                path_prefix,
                env,
            }
        }
        Err(failure) => {
            report.status = InstallStatus::Failed;
            report.detail = Some(failure.detail);
            report.output_tail = failure.tail;
            Prepared {
                report,
                path_prefix: Vec::new(),
                env: Vec::new(),
            }
        }
    }
}

/// The steps as one shell line, for the report.
fn command_line(steps: &[Vec<String>]) -> String {
    steps
        .iter()
        .map(|s| shlex::try_join(s.iter().map(String::as_str)).unwrap_or_else(|_| s.join(" ")))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Why an install did not complete: the report's detail, and the end of the failing step's
/// output when one ran.
struct InstallFailure {
    detail: String,
    tail: Option<String>,
}

impl InstallFailure {
    fn new(detail: String) -> InstallFailure {
        InstallFailure { detail, tail: None }
    }
}

/// Under the key's lock: reuses a complete `store` (`Cached`), or runs the steps into a
/// fresh one and marks it complete (`Installed`). A store left half-written by a failed
/// step or save is removed, so the next job starts over.
async fn install_once(
    ctx: &InstallContext<'_>,
    store: &Path,
    steps: &[Vec<String>],
    link_back: Option<&str>,
    env: &[(String, String)],
) -> Result<InstallStatus, InstallFailure> {
    let _lock = lock_key(store)
        .await
        .map_err(|e| InstallFailure::new(format!("cannot lock the install cache: {e}")))?;
    let marker = store.join(".complete");
    if marker.exists() {
        if let Some(folder) = link_back {
            link_folder(&store.join(folder), &ctx.checkout.join(folder))
                .await
                .map_err(|e| InstallFailure::new(format!("cannot restore cached {folder}: {e}")))?;
        }
        return Ok(InstallStatus::Cached);
    }
    let _ = tokio::fs::remove_dir_all(store).await;
    tokio::fs::create_dir_all(store)
        .await
        .map_err(|e| InstallFailure::new(format!("cannot create {}: {e}", store.display())))?;
    if let Err(failure) = run_steps(ctx, steps, env).await {
        let _ = tokio::fs::remove_dir_all(store).await;
        return Err(failure);
    }
    if let Some(folder) = link_back
        && let Err(e) = save_folder(&ctx.checkout.join(folder), &store.join(folder)).await
    {
        let _ = tokio::fs::remove_dir_all(store).await;
        return Err(InstallFailure::new(format!("cannot cache {folder}: {e}")));
    }
    tokio::fs::write(&marker, b"")
        .await
        .map_err(|e| InstallFailure::new(format!("cannot mark the install complete: {e}")))?;
    Ok(InstallStatus::Installed)
}

/// Runs each step in the checkout with the install's variables, all within one
/// `ctx.timeout`; stops at the first that does not pass.
async fn run_steps(
    ctx: &InstallContext<'_>,
    steps: &[Vec<String>],
    env: &[(String, String)],
) -> Result<(), InstallFailure> {
    let mut run_env = EnvBuilder::new(ctx.env.to_vec());
    for (name, value) in env {
        run_env.set(name.clone(), value.clone());
    }
    let run_env = run_env.build();
    let deadline = Instant::now() + ctx.timeout;
    for step in steps {
        let spec = ProcessSpec {
            program: step[0].clone(),
            arg0: None,
            args: step[1..].to_vec(),
            cwd: ctx.checkout.to_path_buf(),
            env: run_env.clone(),
            timeout: deadline.saturating_duration_since(Instant::now()),
            kill_grace: Duration::from_secs(2),
            output_limit: OUTPUT_TAIL * 2,
            overlay: None,
        };
        let output = run_process(&spec, ctx.cancel)
            .await
            .map_err(|e| InstallFailure::new(crate::errors::one_line(&e)))?;
        if output.outcome != RunOutcome::Passed {
            let detail = match output.outcome {
                RunOutcome::TimedOut => format!("timed out after {} s", ctx.timeout.as_secs()),
                RunOutcome::Cancelled => "cancelled".to_string(),
                other => format!("`{}` ended with {other:?}", step[0]),
            };
            let tail = format!("{}{}", output.stdout.text, output.stderr.text);
            let tail = crate::process::Captured {
                text: tail,
                truncated_bytes: 0,
            }
            .tail(OUTPUT_TAIL);
            return Err(InstallFailure {
                detail,
                tail: Some(tail.text),
            });
        }
    }
    Ok(())
}

/// Holds an exclusive lock on `<store>.lock` until dropped.
async fn lock_key(store: &Path) -> std::io::Result<std::fs::File> {
    let lock_path = store.with_extension("lock");
    tokio::task::spawn_blocking(move || {
        if let Some(parent) = lock_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::create(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn save_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    tokio::task::spawn_blocking(move || {
        if from.is_dir() {
            link_tree(&from, &to)
        } else {
            Ok(())
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn link_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    tokio::task::spawn_blocking(move || {
        if to.exists() {
            std::fs::remove_dir_all(&to)?;
        }
        if from.is_dir() {
            link_tree(&from, &to)
        } else {
            Ok(())
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The files of `names` that exist in `dir`, in the order given.
fn present(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|name| dir.join(name).is_file())
        .map(|name| name.to_string())
        .collect()
}

/// A short hash of the dependency files' names and contents (and of how they are installed).
fn cache_key(dir: &Path, kind: &str, files: &[String], variant: bool) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([u8::from(variant)]);
    for file in files {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(dir.join(file)).unwrap_or_default());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// The full path of `program` on the PATH of `env`, if any.
pub fn find_on_path(env: &[(String, String)], program: &str) -> Option<String> {
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())?;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .map(|p| p.display().to_string())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_job_without_an_install_step_leaves_the_checkout_unwritten() {
        use super::{Framework, may_write};
        let dir = tempfile::tempdir().expect("tempdir");
        let checkout = dir.path();
        assert!(!may_write(Framework::Unknown, checkout, true));
        assert!(
            !may_write(Framework::Python, checkout, true),
            "no dependency files"
        );
        for name in ["requirements-test.txt", "pyproject.toml"] {
            std::fs::write(checkout.join(name), "").expect("write");
            assert!(may_write(Framework::Python, checkout, true), "{name}");
            assert!(
                !may_write(Framework::Python, checkout, false),
                "{name}, install off"
            );
            std::fs::remove_file(checkout.join(name)).expect("remove");
        }
        for framework in [Framework::TypescriptJest, Framework::Go, Framework::Rust] {
            assert!(may_write(framework, checkout, true), "{framework:?}");
        }
    }

    use super::*;

    #[test]
    fn pip_with_the_python_option_is_recognised() {
        assert!(pip_supports_python_option(
            "pip 23.2.1 from /usr/lib/python3/dist-packages/pip (python 3.11)"
        ));
        assert!(pip_supports_python_option("pip 22.3 from /x (python 3.10)"));
        assert!(pip_supports_python_option("pip 24 from /x (python 3.12)"));
        assert!(!pip_supports_python_option(
            "pip 22.2.2 from /x (python 3.10)"
        ));
        assert!(!pip_supports_python_option(
            "pip 9.0.1 from /x (python 3.6)"
        ));
        assert!(!pip_supports_python_option("No module named pip"));
        assert!(!pip_supports_python_option(""));
    }
}

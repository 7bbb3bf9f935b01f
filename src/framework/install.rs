//! Dependency installation per framework, cached across jobs in the cache directory and keyed
//! by a hash of the dependency files, so a second job on the same repository skips it.
//! Python goes into a virtualenv of its own, never into the worker's interpreter. A failed
//! install is reported ([`InstallReport`]) with the step, the package and the tool's reason
//! ([`super::install_failure`]), the toolchain and the keys that change the install; the
//! pipeline then decides whether the runs can still happen ([`Prepared::stops_runs`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

mod steps;

use super::Framework;
pub use crate::config::InstallChoices;
use crate::process::env::EnvBuilder;
use crate::process::{ProcessSpec, run_process};
use steps::{Plan, Step, cache_key, cached_install};

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
    /// The step that failed, as a user would type it (`pip install -r requirements.txt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// The requirement, package or module the failed step could not install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The installer's own one-line reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The interpreter or toolchain the install used (`Python 3.11.7`, `go version go1.22`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// How to get past a failed install: the `.flaky-detector.yml` keys that change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub way_out: Option<String>,
    /// What the one probe run met when the install failed (its first error line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_error: Option<String>,
}

/// What the runs need from the install: PATH entries and variables.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub report: InstallReport,
    pub path_prefix: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
    /// The install failed on the dependencies themselves (not on building the tests once,
    /// whose error the runs show better): the runs would only meet the same missing package.
    pub stops_runs: bool,
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
    /// The repository's own choices (`install_command`, `extra_packages`, `python`).
    pub choices: &'a InstallChoices,
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
            Framework::Unknown => match &ctx.choices.install_command {
                Some(line) => custom_only(ctx, line).await,
                None => skipped(
                    ctx.framework,
                    InstallStatus::Skipped,
                    Some("no known dependency files".into()),
                ),
            },
        }
    };
    prepared.report.duration_ms = started.elapsed().as_millis() as u64;
    prepared
}

fn skipped(framework: Framework, status: InstallStatus, detail: Option<String>) -> Prepared {
    Prepared {
        report: InstallReport::new(status, framework, detail),
        path_prefix: Vec::new(),
        env: Vec::new(),
        stops_runs: false,
    }
}

impl InstallReport {
    /// A report with nothing but its status, framework and detail.
    pub fn new(
        status: InstallStatus,
        framework: Framework,
        detail: Option<String>,
    ) -> InstallReport {
        InstallReport {
            status,
            framework,
            command: None,
            duration_ms: 0,
            cache_key: None,
            detail,
            output_tail: None,
            failed_step: None,
            package: None,
            reason: None,
            toolchain: None,
            way_out: None,
            probe_error: None,
        }
    }

    /// One sentence on a failed install: the step, the package and the reason, and the
    /// toolchain (`pip install -r requirements.txt failed on six==0.0.999: …, with Python
    /// 3.11.7`). `None` unless the install failed.
    pub fn failure_sentence(&self) -> Option<String> {
        if self.status != InstallStatus::Failed {
            return None;
        }
        let step = self.failed_step.as_deref().unwrap_or("the install");
        let mut line = match (&self.package, &self.reason) {
            (Some(package), Some(reason)) => format!("{step} failed on {package}: {reason}"),
            (Some(package), None) => format!("{step} failed on {package}"),
            (None, Some(reason)) => format!("{step} failed: {reason}"),
            (None, None) => match &self.detail {
                Some(detail) => format!("{step} failed: {detail}"),
                None => format!("{step} failed"),
            },
        };
        if let Some(toolchain) = &self.toolchain {
            line.push_str(&format!(" (with {toolchain})"));
        }
        Some(line)
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
pub fn may_write(
    framework: Framework,
    checkout: &Path,
    enabled: bool,
    choices: &InstallChoices,
) -> bool {
    match framework {
        _ if !enabled => false,
        _ if choices.install_command.is_some() => true,
        Framework::Unknown => false,
        Framework::Python => {
            !present(checkout, &PYTHON_REQUIREMENTS).is_empty()
                || !present(checkout, &PYTHON_PROJECT).is_empty()
                || !choices.extra_packages.is_empty()
        }
        _ => true,
    }
}

/// A framework we do not know, with the repository's `install_command`: that line alone,
/// once per command and cache key.
async fn custom_only(ctx: &InstallContext<'_>, line: &str) -> Prepared {
    let key = cache_key(ctx.checkout, "custom-v1", &[], false, ctx.choices);
    let store = ctx.cache_dir.join("custom").join(&key);
    let steps = vec![Step::custom(line)];
    let plan = Plan {
        key: &key,
        store: &store,
        steps: &steps,
        link_back: None,
        path_prefix: Vec::new(),
        env: Vec::new(),
        toolchain: Vec::new(),
        way_out: format!("fix `install_command` in {}", crate::config::FILE_NAME),
    };
    let prepared = cached_install(ctx, plan).await;
    // What the line did lives in this job's checkout, not in the store: the next job runs
    // it again.
    let _ = tokio::fs::remove_dir_all(&store).await;
    prepared
}

/// A virtualenv per dependency-file hash, with access to the worker's site-packages (where
/// the image ships pytest). For a packaged project, `.` and `src` lead `PYTHONPATH`, so the
/// checkout's code shadows the copy installed with the cached dependencies. The file's
/// `python` picks the interpreter, `extra_packages` join the pip line, and `install_command`
/// replaces it (run with the virtualenv first on PATH).
async fn python(ctx: &InstallContext<'_>) -> Prepared {
    let choices = ctx.choices;
    let requirements = present(ctx.checkout, &PYTHON_REQUIREMENTS);
    let project = present(ctx.checkout, &PYTHON_PROJECT);
    let chosen = choices.install_command.is_some() || !choices.extra_packages.is_empty();
    let (files, installs_project) = match (requirements.is_empty(), project.is_empty()) {
        (false, _) => (requirements, false),
        (true, false) => (project, true),
        (true, true) if chosen => (Vec::new(), false),
        (true, true) => {
            return skipped(
                Framework::Python,
                InstallStatus::Skipped,
                Some("no requirements.txt, pyproject.toml or setup.py".into()),
            );
        }
    };
    let uv = find_on_path(ctx.env, "uv");
    let key = cache_key(ctx.checkout, "python-v1", &files, uv.is_some(), choices);
    let venv = ctx.cache_dir.join("python").join(&key);
    let bin = venv.join("bin");
    let python = bin.join("python");
    let interpreter = choices.python.clone().unwrap_or_else(|| "python3".into());
    let host = find_on_path(ctx.env, &interpreter).unwrap_or_else(|| interpreter.clone());
    let mut steps: Vec<Step> = Vec::new();
    let venv_arg = venv.display().to_string();
    let mut pip: Vec<String> = match &uv {
        Some(uv) => {
            let mut make = vec![uv.clone(), "venv".into(), "--system-site-packages".into()];
            if choices.python.is_some() {
                make.extend(["--python".into(), host.clone()]);
            }
            make.push(venv_arg);
            steps.push(Step::fetch(make, &format!("uv venv (with {interpreter})")));
            vec![
                uv.clone(),
                "pip".into(),
                "install".into(),
                "--python".into(),
                python.display().to_string(),
            ]
        }
        None => {
            // Giving the virtualenv its own pip (ensurepip) is most of the cost of making it;
            // a host pip that installs into another interpreter makes that copy unneeded.
            // Probing pip costs a Python start: skip it when the cache already holds the venv.
            // An `install_command` calls `pip` from the virtualenv, which then needs its own.
            let cached = venv.join(".complete").exists();
            let lean = !cached
                && choices.install_command.is_none()
                && host_pip_targets_others(&host, ctx).await;
            let mut make = vec![
                host.clone(),
                "-m".into(),
                "venv".into(),
                "--system-site-packages".into(),
            ];
            if lean {
                make.push("--without-pip".into());
            }
            make.push(venv_arg);
            steps.push(Step::fetch(
                make,
                &format!("{interpreter} -m venv (making the virtualenv)"),
            ));
            let mut pip: Vec<String> = if lean {
                vec![
                    host.clone(),
                    "-m".into(),
                    "pip".into(),
                    "--python".into(),
                    python.display().to_string(),
                ]
            } else {
                vec![python.display().to_string(), "-m".into(), "pip".into()]
            };
            // Not `--quiet`: pip names the package it is collecting only in its progress
            // lines, which is how a failed build is traced to its requirement.
            pip.extend(
                [
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--progress-bar",
                    "off",
                ]
                .map(String::from),
            );
            pip
        }
    };
    let mut label = vec!["pip install".to_string()];
    if installs_project {
        pip.push(".".into());
        label.push(".".into());
    } else {
        for file in &files {
            pip.extend(["-r".into(), file.clone()]);
            label.extend(["-r".into(), file.clone()]);
        }
    }
    pip.extend(choices.extra_packages.iter().cloned());
    label.extend(choices.extra_packages.iter().cloned());
    match &choices.install_command {
        Some(line) => steps.push(Step::custom(line)),
        None => steps.push(Step::fetch(pip, &label.join(" "))),
    }
    let mut env = vec![("VIRTUAL_ENV".to_string(), venv.display().to_string())];
    if installs_project {
        let mut pythonpath = vec![".".to_string()];
        if ctx.checkout.join("src").is_dir() {
            pythonpath.push("src".into());
        }
        env.push(("PYTHONPATH".into(), pythonpath.join(":")));
    }
    let toolchain = vec![host, "--version".into()];
    let plan = Plan {
        key: &key,
        store: &venv,
        steps: &steps,
        link_back: None,
        path_prefix: vec![bin],
        env,
        toolchain: vec![toolchain],
        way_out: python_way_out(&files, choices),
    };
    cached_install(ctx, plan).await
}

/// The keys that change a Python install, worded for the files that were installed.
fn python_way_out(files: &[String], choices: &InstallChoices) -> String {
    if choices.install_command.is_some() {
        return format!(
            "fix `install_command` in {FILE}, or remove it to install from the dependency files",
            FILE = crate::config::FILE_NAME
        );
    }
    let files = if files.is_empty() {
        "`extra_packages`".to_string()
    } else {
        files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "pin versions that exist for this Python in {files}, or set `python` (another \
         interpreter), `extra_packages` (more packages) or `install_command` (your own install \
         line) in {FILE}; `auto_install_dependencies: false` runs the tests without installing",
        FILE = crate::config::FILE_NAME
    )
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
    let choices = ctx.choices;
    let lockfile = ctx.checkout.join("package-lock.json").exists();
    let files = present(ctx.checkout, &["package.json", "package-lock.json"]);
    let key = cache_key(ctx.checkout, "node-v1", &files, false, choices);
    let store = ctx.cache_dir.join("node").join(&key);
    let npm = find_on_path(ctx.env, "npm").unwrap_or_else(|| "npm".into());
    let verb = if lockfile { "ci" } else { "install" };
    // `--prefer-offline`: packages already in npm's cache are not revalidated, so a second
    // lockfile that shares most packages with a first installs without the network.
    let flags = [
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ];
    let mut steps = vec![match &choices.install_command {
        Some(line) => Step::custom(line),
        None => {
            let mut argv = vec![npm.clone(), verb.into()];
            argv.extend(flags.map(String::from));
            Step::fetch(argv, &format!("npm {verb}"))
        }
    }];
    if !choices.extra_packages.is_empty() {
        let mut argv = vec![npm.clone(), "install".into(), "--no-save".into()];
        argv.extend(flags.map(String::from));
        argv.extend(choices.extra_packages.iter().cloned());
        let label = format!("npm install --no-save {}", choices.extra_packages.join(" "));
        steps.push(Step::fetch(argv, &label));
    }
    let bin = ctx.checkout.join("node_modules").join(".bin");
    let node = find_on_path(ctx.env, "node").unwrap_or_else(|| "node".into());
    let way_out = match &choices.install_command {
        Some(_) => format!("fix `install_command` in {}", crate::config::FILE_NAME),
        None => format!(
            "fix the version or name in `package.json`{}, or set `extra_packages` or \
             `install_command` in {}",
            if lockfile {
                " and `package-lock.json`"
            } else {
                ""
            },
            crate::config::FILE_NAME
        ),
    };
    let plan = Plan {
        key: &key,
        store: &store,
        steps: &steps,
        link_back: Some("node_modules"),
        path_prefix: vec![bin],
        env: Vec::new(),
        toolchain: vec![
            vec![node, "--version".into()],
            vec![npm, "--version".into()],
        ],
        way_out,
    };
    cached_install(ctx, plan).await
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
    let key = cache_key(ctx.checkout, "go-v1", &files, false, ctx.choices);
    let marker_dir = go_root.join("downloaded").join(&key);
    let go = find_on_path(ctx.env, "go").unwrap_or_else(|| "go".into());
    // `-exec=true` builds every test binary of the module (filling the shared build cache)
    // and hands it to `true` instead of running it, so no test code runs at install time.
    let fetch = match &ctx.choices.install_command {
        Some(line) => Step::custom(line),
        None => Step::fetch(
            vec![go.clone(), "mod".into(), "download".into()],
            "go mod download",
        ),
    };
    let steps = vec![
        fetch,
        Step::build(
            vec![
                go.clone(),
                "test".into(),
                "-exec=true".into(),
                "./...".into(),
            ],
            "go test -exec=true ./... (building the tests)",
        ),
    ];
    let plan = Plan {
        key: &key,
        store: &marker_dir,
        steps: &steps,
        link_back: None,
        path_prefix: Vec::new(),
        env,
        toolchain: vec![vec![go, "version".into()]],
        way_out: format!(
            "fix the `require` in `go.mod` (or make the module reachable: GOPROXY, \
             GOPRIVATE, GONOSUMDB in the worker's environment), or set `install_command` in {}",
            crate::config::FILE_NAME
        ),
    };
    cached_install(ctx, plan).await
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
    let key = cache_key(ctx.checkout, "rust-v1", &files, false, ctx.choices);
    let store = ctx.cache_dir.join("rust").join(&key);
    let env = vec![(
        "CARGO_TARGET_DIR".to_string(),
        store.join("target").display().to_string(),
    )];
    let cargo = find_on_path(ctx.env, "cargo").unwrap_or_else(|| "cargo".into());
    let fetch = match &ctx.choices.install_command {
        Some(line) => Step::custom(line),
        None => Step::fetch(vec![cargo.clone(), "fetch".into()], "cargo fetch"),
    };
    let steps = vec![
        fetch,
        Step::build(
            vec![cargo.clone(), "test".into(), "--no-run".into()],
            "cargo test --no-run (building the tests)",
        ),
    ];
    let plan = Plan {
        key: &key,
        store: &store,
        steps: &steps,
        link_back: None,
        path_prefix: Vec::new(),
        env,
        toolchain: vec![vec![cargo, "--version".into()]],
        way_out: format!(
            "fix the dependency in `Cargo.toml` (a version that exists, or one this toolchain \
             builds), or set `install_command` in {}",
            crate::config::FILE_NAME
        ),
    };
    cached_install(ctx, plan).await
}

/// The files of `names` that exist in `dir`, in the order given.
fn present(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|name| dir.join(name).is_file())
        .map(|name| name.to_string())
        .collect()
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
        let none = super::InstallChoices::default();
        assert!(!may_write(Framework::Unknown, checkout, true, &none));
        assert!(
            !may_write(Framework::Python, checkout, true, &none),
            "no dependency files"
        );
        for name in ["requirements-test.txt", "pyproject.toml"] {
            std::fs::write(checkout.join(name), "").expect("write");
            assert!(
                may_write(Framework::Python, checkout, true, &none),
                "{name}"
            );
            assert!(
                !may_write(Framework::Python, checkout, false, &none),
                "{name}, install off"
            );
            std::fs::remove_file(checkout.join(name)).expect("remove");
        }
        for framework in [Framework::TypescriptJest, Framework::Go, Framework::Rust] {
            assert!(may_write(framework, checkout, true, &none), "{framework:?}");
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

//! Dependency installation per framework, cached across jobs in the cache directory and keyed
//! by a hash of the dependency files, so a second job on the same repository skips it.
//! Python goes into a virtualenv of its own, never into the worker's interpreter. A failed
//! install is reported ([`InstallReport`]) with the step, the package and the tool's reason
//! ([`super::install_failure`]), the toolchain and the keys that change the install; the
//! pipeline then decides whether the runs can still happen ([`Prepared::stops_runs`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub(in crate::framework) mod steps;

use super::Framework;
use super::adapter::adapter_for_framework;
pub use crate::config::InstallChoices;
use crate::process::env::EnvBuilder;
pub use crate::wire::install::{InstallReport, InstallStatus};
use steps::{Plan, Step, cache_key, cached_install};

/// Bytes of install output kept in the report.
const OUTPUT_TAIL: usize = 2048;

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
        match adapter_for_framework(ctx.framework) {
            Some(adapter) => adapter.install(ctx).await,
            None => match &ctx.choices.install_command {
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

pub(in crate::framework) fn skipped(
    framework: Framework,
    status: InstallStatus,
    detail: Option<String>,
) -> Prepared {
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
        framework => adapter_for_framework(framework)
            .is_some_and(|adapter| adapter.may_write(checkout, choices)),
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

/// The files of `names` that exist in `dir`, in the order given.
pub(in crate::framework) fn present(dir: &Path, names: &[&str]) -> Vec<String> {
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
}

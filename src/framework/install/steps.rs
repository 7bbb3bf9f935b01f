//! How an install runs ([`cached_install`]): its steps ([`Step`]) once per cache key under a
//! file lock, the toolchain asked after a failure, and the failure read by
//! [`super::super::install_failure::diagnose`] into the report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{InstallChoices, InstallContext, InstallReport, InstallStatus, OUTPUT_TAIL, Prepared};
use crate::framework::install_failure::diagnose;
use crate::process::env::EnvBuilder;
use crate::process::{ProcessSpec, RunOutcome, run_process};
use crate::workspace::copy::link_tree;

/// One install step: the argv run, the words a user knows it by, and whether it builds the
/// tests (a failure there is the code's, shown by the runs) rather than fetches packages.
#[derive(Debug, Clone)]
pub(in crate::framework) struct Step {
    argv: Vec<String>,
    label: String,
    builds: bool,
}

impl Step {
    pub(in crate::framework) fn fetch(argv: Vec<String>, label: &str) -> Step {
        Step {
            argv,
            label: label.to_string(),
            builds: false,
        }
    }

    pub(in crate::framework) fn build(argv: Vec<String>, label: &str) -> Step {
        Step {
            argv,
            label: label.to_string(),
            builds: true,
        }
    }

    /// The repository's `install_command`, through `sh -c`.
    pub(in crate::framework) fn custom(line: &str) -> Step {
        Step::fetch(
            vec!["sh".into(), "-c".into(), line.to_string()],
            &format!("install_command `{line}`"),
        )
    }
}

/// An install as [`cached_install`] runs it: the steps, where their result is kept, what
/// the runs get from it, and what to say when it fails.
pub(in crate::framework) struct Plan<'a> {
    pub(in crate::framework) key: &'a str,
    pub(in crate::framework) store: &'a Path,
    pub(in crate::framework) steps: &'a [Step],
    pub(in crate::framework) link_back: Option<&'a str>,
    pub(in crate::framework) path_prefix: Vec<PathBuf>,
    pub(in crate::framework) env: Vec<(String, String)>,
    /// Commands that print the toolchain's version, asked only when the install fails.
    pub(in crate::framework) toolchain: Vec<Vec<String>>,
    /// The keys that change this install, for a failure's way out.
    pub(in crate::framework) way_out: String,
}

/// Runs the plan's steps once per key under a file lock, so two jobs on the same repository
/// install once; the store gets a `.complete` marker only after every step succeeded. With
/// `link_back`, the named folder of the checkout is saved into the store after the install
/// and hard-linked back into the checkout of later jobs.
pub(in crate::framework) async fn cached_install(
    ctx: &InstallContext<'_>,
    plan: Plan<'_>,
) -> Prepared {
    let mut report = InstallReport::new(InstallStatus::Installed, ctx.framework, None);
    report.command = Some(command_line(plan.steps));
    report.cache_key = Some(plan.key.to_string());
    match install_once(ctx, &plan).await {
        Ok(status) => {
            report.status = status;
            Prepared {
                report,
                path_prefix: plan.path_prefix,
                env: plan.env,
                stops_runs: false,
            }
        }
        Err(failure) => {
            report.status = InstallStatus::Failed;
            // A step cut short by the timeout says nothing final: its last error line is
            // whatever it was printing, so the timeout is the reason.
            let diagnosis = match failure.tail.as_deref() {
                Some(tail) if !failure.timed_out => diagnose(tail),
                _ => Default::default(),
            };
            report.failed_step = failure.step.as_ref().map(|s| s.label.clone());
            report.package = diagnosis.package;
            report.reason = diagnosis.reason.or_else(|| Some(failure.detail.clone()));
            report.detail = Some(failure.detail);
            report.output_tail = failure.tail.map(|tail| {
                crate::process::Captured {
                    text: tail,
                    truncated_bytes: 0,
                }
                .tail(OUTPUT_TAIL)
                .text
            });
            report.toolchain = toolchain_version(ctx, &plan.toolchain).await;
            report.way_out = Some(plan.way_out);
            // A failed build of the tests with no package named is the code's own error,
            // which the runs show with the test command's words.
            let builds = failure.step.as_ref().is_some_and(|s| s.builds);
            let stops_runs = !(builds && report.package.is_none());
            Prepared {
                report,
                path_prefix: Vec::new(),
                env: Vec::new(),
                stops_runs,
            }
        }
    }
}

/// The toolchain's versions, one line each, joined (`v20.20.2, npm 11.19.1`): asked after a
/// failure, where the version is often the cause (no wheel for this Python).
async fn toolchain_version(ctx: &InstallContext<'_>, commands: &[Vec<String>]) -> Option<String> {
    let mut versions = Vec::new();
    for argv in commands {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let spec = ProcessSpec {
            program: program.clone(),
            arg0: None,
            args: args.to_vec(),
            cwd: ctx.checkout.to_path_buf(),
            env: ctx.env.to_vec(),
            timeout: Duration::from_secs(15),
            kill_grace: Duration::from_secs(1),
            output_limit: 4096,
            overlay: None,
        };
        let Ok(output) = run_process(&spec, ctx.cancel).await else {
            continue;
        };
        if !output.outcome.passed() {
            continue;
        }
        let text = format!("{}{}", output.stdout.text, output.stderr.text);
        if let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty()) {
            let name = Path::new(program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // `npm --version` prints a bare number: say whose it is.
            if line.starts_with(|c: char| c.is_ascii_digit()) {
                versions.push(format!("{name} {line}"));
            } else if name == "node" {
                versions.push(format!("node {line}"));
            } else {
                versions.push(line.to_string());
            }
        }
    }
    (!versions.is_empty()).then(|| versions.join(", "))
}

/// The steps as one shell line, for the report.
fn command_line(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            shlex::try_join(s.argv.iter().map(String::as_str)).unwrap_or_else(|_| s.argv.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Why an install did not complete: the report's detail, and the failing step with the
/// output it left when one ran.
struct InstallFailure {
    detail: String,
    step: Option<Step>,
    tail: Option<String>,
    timed_out: bool,
}

impl InstallFailure {
    fn new(detail: String) -> InstallFailure {
        InstallFailure {
            detail,
            step: None,
            tail: None,
            timed_out: false,
        }
    }
}

/// Under the key's lock: reuses a complete store (`Cached`), or runs the steps into a fresh
/// one and marks it complete (`Installed`). A store left half-written by a failed step or
/// save is removed, so the next job starts over.
async fn install_once(
    ctx: &InstallContext<'_>,
    plan: &Plan<'_>,
) -> Result<InstallStatus, InstallFailure> {
    let store = plan.store;
    let _lock = lock_key(store)
        .await
        .map_err(|e| InstallFailure::new(format!("cannot lock the install cache: {e}")))?;
    let marker = store.join(".complete");
    if marker.exists() {
        if let Some(folder) = plan.link_back {
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
    if let Err(failure) = run_steps(ctx, plan).await {
        let _ = tokio::fs::remove_dir_all(store).await;
        return Err(failure);
    }
    if let Some(folder) = plan.link_back
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

/// Bytes of a step's output kept for [`diagnose`]: pip names the failing requirement many
/// lines before its last words.
const DIAGNOSE_OUTPUT: usize = 256 * 1024;

/// Runs each step in the checkout with the install's variables and PATH entries, all within
/// one `ctx.timeout`; stops at the first that does not pass.
async fn run_steps(ctx: &InstallContext<'_>, plan: &Plan<'_>) -> Result<(), InstallFailure> {
    let mut run_env = EnvBuilder::new(ctx.env.to_vec());
    run_env.prepend_path(plan.path_prefix.iter().map(|p| p.display().to_string()));
    for (name, value) in &plan.env {
        run_env.set(name.clone(), value.clone());
    }
    let run_env = run_env.build();
    let deadline = Instant::now() + ctx.timeout;
    for step in plan.steps {
        let spec = ProcessSpec {
            program: step.argv[0].clone(),
            arg0: None,
            args: step.argv[1..].to_vec(),
            cwd: ctx.checkout.to_path_buf(),
            env: run_env.clone(),
            timeout: deadline.saturating_duration_since(Instant::now()),
            kill_grace: Duration::from_secs(2),
            output_limit: DIAGNOSE_OUTPUT,
            overlay: None,
        };
        let output = run_process(&spec, ctx.cancel)
            .await
            .map_err(|e| InstallFailure {
                detail: crate::errors::one_line(&e),
                step: Some(step.clone()),
                tail: None,
                timed_out: false,
            })?;
        if output.outcome != RunOutcome::Passed {
            let detail = match output.outcome {
                RunOutcome::TimedOut => format!(
                    "timed out after {} s (`pip_install_timeout` sets the limit)",
                    ctx.timeout.as_secs()
                ),
                RunOutcome::Cancelled => "cancelled".to_string(),
                other => format!("{} {other}", step.label),
            };
            return Err(InstallFailure {
                detail,
                step: Some(step.clone()),
                tail: Some(format!("{}{}", output.stdout.text, output.stderr.text)),
                timed_out: output.outcome == RunOutcome::TimedOut,
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

/// A short hash of the dependency files' names and contents, of how they are installed, and
/// of the repository's install choices (none leaves the key as it was before they existed).
pub(in crate::framework) fn cache_key(
    dir: &Path,
    kind: &str,
    files: &[String],
    variant: bool,
    choices: &InstallChoices,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([u8::from(variant)]);
    if *choices != InstallChoices::default() {
        hasher.update(b"choices\0");
        for part in choices
            .install_command
            .iter()
            .chain(&choices.extra_packages)
            .chain(&choices.python)
        {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    for file in files {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(dir.join(file)).unwrap_or_default());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

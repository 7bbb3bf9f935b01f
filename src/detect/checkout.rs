//! A local checkout used in place: a job given a local directory (no ref) reads it where it
//! is, and its runs see it through their overlays, instead of copying it into the job's
//! scratch directory first and removing the copy after. For a short suite that copy and its
//! removal were most of what a job cost besides its runs (half of a 2-run job on a 300-file
//! clone). It is done only when nothing of the job can write to the directory: `run`
//! isolation through an overlay that works here, and no install step; otherwise the
//! directory is copied as before ([`Workspace::copy_in`]).

use crate::config::{Isolation, Settings};
use crate::framework::Framework;
use crate::framework::build_once::builds_in_checkout;
use crate::framework::install::may_write;
use crate::framework::select::Selection;
use crate::job::{Job, RepoSource};
use crate::process::env::inherited;
use crate::runner::isolation::Places;
use crate::runner::isolation::mechanism::{Choice, Mechanism};
use crate::runner::isolation::overlay::OverlayBase;
use crate::workspace::{FetchSettings, Workspace, WorkspaceError};

use super::Deps;

/// The job's checkout and where its runs work over it.
pub(super) struct JobCheckout<'a> {
    pub(super) workspace: &'a Workspace,
    pub(super) places: Places,
    /// The job's framework when [`settle`] already knows it for this checkout, so the
    /// pipeline does not detect it twice.
    pub(super) framework: Option<Framework>,
    /// The job's chosen tests (`tests`), when it runs only some.
    pub(super) selection: Option<&'a Selection>,
}

/// What [`settle`] decided: where the runs work, and the framework when it was needed to
/// decide and the checkout it was read from is the one the runs use.
pub(super) struct Settled {
    pub(super) places: Places,
    pub(super) framework: Option<Framework>,
}

/// The job's workspace: a local directory without a ref is borrowed, anything else fetched
/// or copied into a new scratch directory.
pub(super) async fn open(
    job: &Job,
    deps: &Deps,
    fetch: &FetchSettings,
) -> Result<Workspace, WorkspaceError> {
    match &job.repo {
        RepoSource::Local(path) if job.git_ref.is_none() => {
            Workspace::borrow(path, &deps.work_dir).await
        }
        repo => Workspace::prepare(repo, job.git_ref.as_deref(), &deps.work_dir, fetch).await,
    }
}

/// Decides, once the job's settings are known, whether a borrowed checkout stays borrowed:
/// the places its runs use over it, or a copy made now and default places. A framework
/// read from a directory that is then copied is not kept: the copy is what the runs use.
pub(super) async fn settle(
    workspace: &mut Workspace,
    job: &Job,
    settings: &Settings,
) -> Result<Settled, WorkspaceError> {
    let copied = Settled {
        places: Places::default(),
        framework: None,
    };
    if !workspace.is_borrowed() {
        return Ok(copied);
    }
    match overlay_in_place(workspace, job, settings).await {
        Some((base, framework)) => Ok(Settled {
            places: Places::over_borrowed(base),
            framework: Some(framework),
        }),
        None => {
            workspace.copy_in().await?;
            Ok(copied)
        }
    }
}

/// The overlay runs can use over the borrowed checkout, when nothing of the job writes to
/// it, and the job's framework, which that depends on.
async fn overlay_in_place(
    workspace: &Workspace,
    job: &Job,
    settings: &Settings,
) -> Option<(OverlayBase, Framework)> {
    if settings.isolation != Isolation::Run || settings.preserve_temp_dir {
        return None;
    }
    // The job's variables first: `pick` takes the first value it finds, and the runs'
    // environment lets a job's value replace the worker's, so both must read the same one.
    let mut env: Vec<(String, String)> = job
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.extend(inherited());
    match Choice::pick(settings.isolation, settings.preserve_temp_dir, &env) {
        Ok(Choice::Cheapest | Choice::Fixed(Mechanism::Overlay)) => {}
        _ => return None,
    }
    let checkout = workspace.checkout().to_path_buf();
    let framework = job
        .overrides
        .framework
        .unwrap_or_else(|| Framework::recognise(&checkout, &settings.argv));
    if may_write(
        framework,
        &checkout,
        settings.auto_install,
        &settings.install,
    ) || builds_in_checkout(settings.build_once, &settings.argv)
    {
        return None;
    }
    let runs_dir = workspace.scratch().join("runs");
    let probed = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&runs_dir).map_err(|e| e.to_string())?;
        OverlayBase::probe(&checkout, &runs_dir)
    })
    .await;
    match probed {
        Ok(Ok(base)) => Some((base, framework)),
        Ok(Err(reason)) => {
            tracing::debug!(%reason, "checkout: no overlay here; the local directory is copied");
            None
        }
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

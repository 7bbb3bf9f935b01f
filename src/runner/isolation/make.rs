//! The blocking work of making a run's place ([`make_place`]): its scratch folders, and its
//! working copy as the isolation mode wants it (a copy made ahead or now, a slot's copy reset,
//! or none); and the work done ahead during a `run` mode run ([`copy_ahead`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::home::{HomeStamp, RunHome};
use super::mechanism::Mechanism;
use super::overlay::{HeldOverlay, OverlayBase, layer_dirs, remove_layer};
use super::reset::SlotCopy;
use super::scratch::{fresh_scratch, new_run_dir, reuse_scratch};
use super::tree::Manifest;
use crate::process::held::FolderStamp;
use crate::runner::RunnerError;
use crate::workspace::copy::Reflinks;

/// What every run's place is made from, found once per job.
#[derive(Debug)]
pub(super) struct PlaceSource {
    pub(super) mechanism: Mechanism,
    /// With [`Mechanism::Overlay`]: how each run's mount is made.
    pub(super) overlay: Option<OverlayBase>,
    /// With [`Mechanism::Copy`] and [`Mechanism::Slot`] only: the others copy nothing.
    pub(super) manifest: Option<Manifest>,
    pub(super) reflinks: Reflinks,
    pub(super) home: RunHome,
    /// `run` mode makes copies one run ahead (see [`AHEAD_LIMIT`]).
    pub(super) ahead: bool,
}

/// Above this many bytes of files of its own, a copy that takes real data (no copy-on-write)
/// is made when its run starts rather than one run ahead: a copy made ahead doubles the disk
/// a slot uses, and the last round of them is never used.
pub(super) const AHEAD_LIMIT: u64 = 256 * 1024 * 1024;

/// What a slot keeps between its runs.
#[derive(Debug, Default)]
pub(super) struct SlotState {
    /// `slot` mode: the slot's copy of the checkout.
    pub(super) copy: Option<SlotCopy>,
    /// Its scratch folders exist (`Some`), with the stamp of the home when there is one.
    pub(super) scratch: Option<Option<HomeStamp>>,
    /// `run` mode: the copy (or overlay layers) the slot's previous run used, to be removed.
    pub(super) stale: Option<PathBuf>,
    /// The overlay the slot's previous run used, its holder to be retired before its layers
    /// are removed.
    pub(super) stale_overlay: Option<Arc<HeldOverlay>>,
    /// `run` mode: a fresh copy (or held overlay) made during the previous run, for the next
    /// one.
    pub(super) ready: Option<Ready>,
}

/// What is made ahead for a slot's next `run` mode run.
#[derive(Debug)]
pub(super) enum Ready {
    Copy(PathBuf),
    Overlay(Arc<HeldOverlay>),
}

/// The blocking part of making a place: the job's side.
pub(super) struct Job<'a> {
    pub(super) runs_dir: &'a Path,
    pub(super) prepared: &'a PlaceSource,
    pub(super) preserve: bool,
    /// Where a `run` mode copy (or an overlay's layers) goes if none was made ahead.
    pub(super) fresh_copy: PathBuf,
}

/// What [`make_place`] made.
pub(super) struct Made {
    pub(super) scratch: PathBuf,
    pub(super) cwd: Option<PathBuf>,
    pub(super) remove: Option<PathBuf>,
    /// With [`Mechanism::Overlay`]: the run's mount, and its upper folder (what it wrote).
    pub(super) overlay: Option<(Arc<HeldOverlay>, PathBuf)>,
    pub(super) state: SlotState,
    /// With [`Mechanism::Overlay`]: the slot's previous run wrote through its overlay, so this
    /// suite writes and the slot should keep a spare ready for the next run.
    pub(super) after_writer: bool,
}

/// The blocking part of [`super::Places::enter`].
pub(super) fn make_place(
    job: &Job<'_>,
    slot: u32,
    attempt: u32,
    mut state: SlotState,
) -> Result<Made, RunnerError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::RunDir { path, source }
    };
    let mechanism = job.prepared.mechanism;
    let home = (mechanism != Mechanism::Shared).then_some(&job.prepared.home);
    let scratch = if job.preserve {
        let dir = new_run_dir(job.runs_dir, attempt)?;
        fresh_scratch(&dir, home).map_err(fail(&dir))?;
        dir
    } else {
        let dir = job.runs_dir.join(format!("slot-{slot}"));
        let reused = reuse_scratch(&dir, home, state.scratch.take());
        state.scratch = Some(reused.map_err(fail(&dir))?);
        dir
    };
    if let Some(base) = &job.prepared.overlay {
        // The previous run's overlay serves again when that run wrote nothing through it: an
        // overlay whose upper folder is empty shows exactly the checkout, and keeping it
        // saves a mount and a namespace teardown per run.
        let had_previous = state.stale_overlay.is_some();
        let unchanged = state.stale_overlay.take_if(|held| wrote_nothing(held));
        let after_writer = had_previous && unchanged.is_none();
        let held = match (unchanged, state.ready.take()) {
            (Some(held), ready) => {
                state.stale = None;
                state.ready = ready;
                held
            }
            (None, Some(Ready::Overlay(held))) => held,
            (None, _) => Arc::new(base.hold(&job.fresh_copy).map_err(fail(&job.fresh_copy))?),
        };
        let layer = held.layer().to_path_buf();
        let upper = layer_dirs(&layer).0;
        return Ok(Made {
            scratch,
            cwd: None,
            remove: Some(layer),
            overlay: Some((held, upper)),
            state,
            after_writer,
        });
    }
    let Some(manifest) = &job.prepared.manifest else {
        return Ok(Made {
            scratch,
            cwd: None,
            remove: None,
            overlay: None,
            state,
            after_writer: false,
        });
    };
    let reflinks = &job.prepared.reflinks;
    if mechanism == Mechanism::Slot {
        let slot_dir = job.runs_dir.join(format!("slot-{slot}"));
        let root = slot_dir.join("checkout");
        let fresh = || {
            std::fs::create_dir_all(&slot_dir)
                .and_then(|()| SlotCopy::create(manifest, &root, reflinks))
                .map_err(fail(&root))
        };
        let copy = match state.copy.take() {
            Some(mut copy) => match copy.reset(manifest, reflinks) {
                Ok(_) => copy,
                Err(error) => {
                    tracing::warn!(slot, %error, "isolation: slot reset failed; copying afresh");
                    fresh()?
                }
            },
            None => fresh()?,
        };
        let cwd = copy.root().to_path_buf();
        state.copy = Some(copy);
        return Ok(Made {
            scratch,
            cwd: Some(cwd),
            remove: None,
            overlay: None,
            state,
            after_writer: false,
        });
    }
    let copy = match state.ready.take() {
        Some(Ready::Copy(ready)) if !job.preserve => ready,
        _ => {
            let copy = if job.preserve {
                scratch.join("checkout")
            } else {
                job.fresh_copy.clone()
            };
            manifest.materialize(&copy, reflinks).map_err(fail(&copy))?;
            copy
        }
    };
    Ok(Made {
        scratch,
        remove: (!job.preserve).then(|| copy.clone()),
        cwd: Some(copy),
        overlay: None,
        state,
        after_writer: false,
    })
}

/// True when the run that used `held` changed nothing through it: its upper folder is still
/// empty and its own mode, owner and times are those it had when mounted (a `chmod .` of the
/// checkout's root lands on the upper folder itself, not in an entry). When in doubt (no
/// stamp, a folder that cannot be read), false: the next run gets a fresh overlay.
pub(super) fn wrote_nothing(held: &HeldOverlay) -> bool {
    let upper = layer_dirs(held.layer()).0;
    held.pristine()
        .is_some_and(|pristine| FolderStamp::of(&upper).is_ok_and(|now| now == pristine))
        && std::fs::read_dir(&upper).is_ok_and(|mut entries| entries.next().is_none())
}

/// The work done while a `run` mode run runs: retires the slot's previous overlay, removes
/// its previous copy (or overlay layers) and makes the next one at `next` (a copy when copies
/// are made ahead, a held overlay with the overlay mechanism). A failure only costs the next
/// run an inline copy or mount (which then reports the error properly).
pub(super) fn copy_ahead(
    prepared: &PlaceSource,
    stale: Option<PathBuf>,
    stale_overlay: Option<Arc<HeldOverlay>>,
    next: Option<PathBuf>,
) -> Option<Ready> {
    if let Some(held) = stale_overlay {
        held.retire();
    }
    if let Some(stale) = stale {
        let _ = remove_layer(&stale);
    }
    let next = next?;
    if let Some(base) = &prepared.overlay {
        return match base.hold(&next) {
            Ok(held) => Some(Ready::Overlay(Arc::new(held))),
            Err(error) => {
                tracing::debug!(error = %error, "isolation: overlay ahead failed");
                let _ = remove_layer(&next);
                None
            }
        };
    }
    let manifest = prepared.manifest.as_ref()?;
    match manifest.materialize(&next, &prepared.reflinks) {
        Ok(()) => Some(Ready::Copy(next)),
        Err(error) => {
            tracing::debug!(error = %error, "isolation: copy ahead failed");
            let _ = super::tree::remove_any(&next);
            None
        }
    }
}

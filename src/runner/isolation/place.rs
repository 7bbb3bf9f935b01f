//! Where a run works: [`Places::enter`] gives each run a [`RunPlace`] under the job's
//! [`Isolation`] mode, and [`RunPlace::leave`] cleans it up.
//!
//! Layout under the job's `runs/` directory:
//! - `run-N/tmp` (TMPDIR), `run-N/cache` (XDG_CACHE_HOME) and, when isolated, `run-N/home`
//!   (HOME): every mode, one per run.
//! - `run-N/checkout`: `run` mode, a copy of the prepared checkout per run.
//! - `slot-K`: `slot` mode, a copy per parallel slot, reset to the prepared state before each
//!   run that uses it.
//!
//! `shared` mode runs in the prepared checkout itself, as the seed project did.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use super::home::RunHome;
use super::slots::{PortBlock, Slot, SlotPool};
use super::tree::{Manifest, SlotCopy, remove_any};
use crate::config::Isolation;
use crate::runner::RunnerError;
use crate::runner::env::EnvBuilder;
use crate::workspace::copy::Reflinks;

/// The isolation state of one job: slot numbers, the snapshot of the prepared checkout and
/// the slots' copies. Cloning shares it, so a template cloned for another phase of the same
/// job reuses its slot copies. Made empty; filled on the first [`Places::enter`].
#[derive(Debug, Clone, Default)]
pub struct Places(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    slots: SlotPool,
    prepared: OnceCell<Arc<Prepared>>,
    slot_copies: Mutex<Vec<Option<SlotCopy>>>,
}

/// What every run's place is made from, found once per job.
#[derive(Debug)]
struct Prepared {
    /// `None` in `shared` mode, which copies nothing.
    manifest: Option<Manifest>,
    reflinks: Reflinks,
    home: RunHome,
}

/// What [`Places::enter`] needs from the job. The same values must be given for every run of
/// one [`Places`].
#[derive(Debug, Clone, Copy)]
pub struct PlaceSpec<'a> {
    pub isolation: Isolation,
    /// The prepared checkout (dependencies installed). Runs never write into it unless the
    /// mode is `shared`.
    pub checkout: &'a Path,
    /// Where the per-run and per-slot directories go.
    pub runs_dir: &'a Path,
    /// Keep per-run directories after the run (`preserve_temp_dir`).
    pub preserve: bool,
    /// The run environment before isolation; its `HOME` is the real home.
    pub env: &'a [(String, String)],
}

/// One run's place: its working directory, scratch folders, slot and port block. Hold it for
/// the whole run, then call [`RunPlace::leave`].
#[derive(Debug)]
pub struct RunPlace {
    places: Places,
    slot: Slot,
    ports: PortBlock,
    run_dir: PathBuf,
    cwd: PathBuf,
    /// The prepared checkout, when the run works elsewhere (its paths in the environment are
    /// pointed at the run's copy).
    moved_from: Option<PathBuf>,
    home: Option<PathBuf>,
    slot_copy: Option<SlotCopy>,
    preserve: bool,
}

impl Places {
    /// Makes the place for run `attempt`: a slot and a port block, its scratch folders and,
    /// unless `shared`, its copy of the checkout (fresh, or the slot's copy reset).
    ///
    /// Blocking file work happens on the blocking pool. An `Err` means the run cannot start
    /// (disk full, unreadable checkout) and names the path at fault.
    pub async fn enter(&self, spec: &PlaceSpec<'_>, attempt: u32) -> Result<RunPlace, RunnerError> {
        let slot = self.0.slots.take();
        let ports = PortBlock::take();
        let prepared = self.prepared(spec).await?;
        let isolated = spec.isolation != Isolation::Shared;
        let slot_copy = if spec.isolation == Isolation::Slot {
            self.take_slot_copy(slot.number())
        } else {
            None
        };
        let work = {
            let (runs_dir, prepared) = (spec.runs_dir.to_path_buf(), prepared.clone());
            let (isolation, number) = (spec.isolation, slot.number());
            move || make_place(&runs_dir, &prepared, isolation, number, attempt, slot_copy)
        };
        let (run_dir, cwd, slot_copy) = blocking(work).await?;
        Ok(RunPlace {
            places: self.clone(),
            slot,
            ports,
            home: isolated.then(|| run_dir.join("home")),
            moved_from: isolated.then(|| spec.checkout.to_path_buf()),
            cwd: cwd.unwrap_or_else(|| spec.checkout.to_path_buf()),
            run_dir,
            slot_copy,
            preserve: spec.preserve,
        })
    }

    async fn prepared(&self, spec: &PlaceSpec<'_>) -> Result<Arc<Prepared>, RunnerError> {
        let init = || {
            let checkout = spec.checkout.to_path_buf();
            let runs_dir = spec.runs_dir.to_path_buf();
            let copies = spec.isolation != Isolation::Shared;
            let home = spec
                .env
                .iter()
                .find(|(k, _)| k == "HOME")
                .map(|(_, v)| PathBuf::from(v));
            blocking(move || {
                std::fs::create_dir_all(&runs_dir).map_err(|source| RunnerError::RunDir {
                    path: runs_dir.clone(),
                    source,
                })?;
                let manifest = copies
                    .then(|| Manifest::scan(&checkout))
                    .transpose()
                    .map_err(|source| RunnerError::RunDir {
                        path: checkout.clone(),
                        source,
                    })?;
                let reflinks = match manifest.as_ref().and_then(Manifest::sample_file) {
                    Some(sample) => Reflinks::probe(&sample, &runs_dir),
                    None => Reflinks::default(),
                };
                if let Some(manifest) = &manifest {
                    tracing::debug!(
                        reflinks = ?reflinks.supported(),
                        hard_linked = manifest.count(super::tree::Share::Link),
                        "isolation: snapshot of the prepared checkout taken"
                    );
                }
                Ok(Arc::new(Prepared {
                    manifest,
                    reflinks,
                    home: if copies {
                        RunHome::list(home.as_deref())
                    } else {
                        RunHome::default()
                    },
                }))
            })
        };
        self.0.prepared.get_or_try_init(init).await.cloned()
    }

    fn take_slot_copy(&self, slot: u32) -> Option<SlotCopy> {
        let mut copies = self
            .0
            .slot_copies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        copies.get_mut(slot as usize).and_then(Option::take)
    }

    fn return_slot_copy(&self, slot: u32, copy: SlotCopy) {
        let mut copies = self
            .0
            .slot_copies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = slot as usize;
        if copies.len() <= slot {
            copies.resize_with(slot + 1, || None);
        }
        copies[slot] = Some(copy);
    }
}

/// The blocking part of [`Places::enter`]: returns the run directory, the working directory
/// when it is not the prepared checkout, and the slot's copy to hand back later.
fn make_place(
    runs_dir: &Path,
    prepared: &Prepared,
    isolation: Isolation,
    slot: u32,
    attempt: u32,
    slot_copy: Option<SlotCopy>,
) -> Result<(PathBuf, Option<PathBuf>, Option<SlotCopy>), RunnerError> {
    let run_dir = new_run_dir(runs_dir, attempt)?;
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::RunDir { path, source }
    };
    let cache = run_dir.join("cache");
    for dir in [run_dir.join("tmp"), cache.clone()] {
        std::fs::create_dir(&dir).map_err(fail(&dir))?;
    }
    let Some(manifest) = &prepared.manifest else {
        return Ok((run_dir, None, None));
    };
    let home = run_dir.join("home");
    prepared.home.build(&home, &cache).map_err(fail(&home))?;
    match isolation {
        Isolation::Run => {
            let checkout = run_dir.join("checkout");
            manifest
                .materialize(&checkout, &prepared.reflinks)
                .map_err(fail(&checkout))?;
            Ok((run_dir, Some(checkout), None))
        }
        _ => {
            let root = runs_dir.join(format!("slot-{slot}"));
            let copy = match slot_copy {
                Some(mut copy) => match copy.reset(manifest, &prepared.reflinks) {
                    Ok(_) => copy,
                    Err(error) => {
                        tracing::warn!(slot, error = %error, "isolation: slot reset failed; copying afresh");
                        SlotCopy::create(manifest, &root, &prepared.reflinks)
                            .map_err(fail(&root))?
                    }
                },
                None => {
                    SlotCopy::create(manifest, &root, &prepared.reflinks).map_err(fail(&root))?
                }
            };
            Ok((run_dir, Some(copy.root().to_path_buf()), Some(copy)))
        }
    }
}

/// `run-N`, or `run-N.2`, `run-N.3` … when a directory of that name was kept by an earlier
/// phase of the job (`preserve_temp_dir` with replayed attempts).
fn new_run_dir(runs_dir: &Path, attempt: u32) -> Result<PathBuf, RunnerError> {
    let mut candidate = runs_dir.join(format!("run-{attempt}"));
    for n in 2.. {
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                candidate = runs_dir.join(format!("run-{attempt}.{n}"));
            }
            Err(source) => {
                return Err(RunnerError::RunDir {
                    path: candidate,
                    source,
                });
            }
        }
    }
    unreachable!("the loop returns")
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RunnerError> + Send + 'static,
) -> Result<T, RunnerError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

impl RunPlace {
    /// The run's working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The slot (`FLAKY_SLOT`): 0 to `parallelism - 1`, unique among the job's runs in flight.
    pub fn slot(&self) -> u32 {
        self.slot.number()
    }

    /// `FLAKY_PORT_BASE`: the first of 100 ports no other run in flight is given.
    pub fn port_base(&self) -> u16 {
        self.ports.base()
    }

    /// The run's environment from the job's `base`: its own TMPDIR, cache and (when isolated)
    /// HOME, its slot and port block, and paths into the prepared checkout (PATH entries such
    /// as `node_modules/.bin`) pointed at the run's copy.
    pub fn env(&self, base: &[(String, String)]) -> EnvBuilder {
        let moved = self
            .moved_from
            .as_ref()
            .map(|from| (from.display().to_string(), self.cwd.display().to_string()));
        let vars = base
            .iter()
            .map(|(k, v)| match &moved {
                Some((from, to)) => (k.clone(), repoint(v, from, to)),
                None => (k.clone(), v.clone()),
            })
            .collect();
        let mut env = EnvBuilder::new(vars);
        let tmp = self.run_dir.join("tmp").display().to_string();
        for name in ["TMPDIR", "TMP", "TEMP"] {
            env.set(name, tmp.clone());
        }
        env.set(
            "XDG_CACHE_HOME",
            self.run_dir.join("cache").display().to_string(),
        );
        if let Some(home) = &self.home {
            env.set("HOME", home.display().to_string());
        }
        env.set("FLAKY_SLOT", self.slot().to_string());
        env.set("FLAKY_PORT_BASE", self.port_base().to_string());
        env
    }

    /// Ends the run's use of the place: the slot's copy goes back to the slot (it is reset
    /// before its next run), and the run directory is removed unless `preserve_temp_dir`.
    /// Removal failures are ignored: the job's scratch directory is removed after the job.
    pub async fn leave(mut self) {
        if let Some(copy) = self.slot_copy.take() {
            self.places.return_slot_copy(self.slot.number(), copy);
        }
        if !self.preserve {
            let run_dir = self.run_dir.clone();
            let _ = tokio::task::spawn_blocking(move || remove_any(&run_dir)).await;
        }
    }
}

/// `value` with every colon-separated part that is `from` or lies under it moved to `to`.
fn repoint(value: &str, from: &str, to: &str) -> String {
    if !value.contains(from) {
        return value.to_string();
    }
    value
        .split(':')
        .map(|part| match part.strip_prefix(from) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{to}{rest}"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_into_the_checkout_follow_the_run() {
        let from = "/w/job/checkout";
        let to = "/w/job/runs/run-3/checkout";
        assert_eq!(
            repoint("/w/job/checkout/node_modules/.bin:/usr/bin", from, to),
            "/w/job/runs/run-3/checkout/node_modules/.bin:/usr/bin"
        );
        assert_eq!(repoint(from, from, to), to);
        assert_eq!(
            repoint("/w/job/checkout2:/x", from, to),
            "/w/job/checkout2:/x",
            "only whole path components move"
        );
    }
}

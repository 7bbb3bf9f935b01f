//! Where a run works: [`Places::enter`] gives each run a [`RunPlace`] under the job's
//! [`Isolation`] mode, and [`RunPlace::leave`] cleans it up.
//!
//! Layout under the job's `runs/` directory:
//! - `slot-K/tmp` (TMPDIR), `slot-K/cache` (XDG_CACHE_HOME) and, unless `shared`,
//!   `slot-K/home` (HOME): the scratch folders of the run holding slot K, emptied (the home
//!   rebuilt) before each run, which costs a directory read instead of a dozen `mkdir`,
//!   `symlink` and `unlink` calls per run. With `preserve_temp_dir` every run gets its own
//!   `run-N/` with these folders instead, so each run's leftovers can be inspected.
//! - `run` mode with the `overlay` mechanism: `layer-G/{upper,work}`, the upper layer of the
//!   overlay mounted on the prepared checkout in the run's own mount namespace (see
//!   [`super::overlay`]): nothing is copied, and the run works at the checkout's own path. The
//!   slot's next run removes it while it runs.
//! - `run` mode with the `copy` mechanism: `copy-G` (or `run-N/checkout` when preserving), a fresh copy of the
//!   prepared checkout per run. Copies are made one run ahead: while a run runs, the copy
//!   for the slot's next run is made and the previous run's copy removed, so a run starts
//!   without waiting for a copy (only the first run of a slot does). What is left at the
//!   end (one unused and one used copy per slot) goes with the job's scratch directory.
//!   Copies of more than 256 MiB without copy-on-write are made when their run starts.
//! - `slot` mode (or `run` mode with the `slot` mechanism): `slot-K/checkout`, a copy per
//!   slot, reset to the prepared state before each run that uses it.
//!
//! `shared` mode runs in the prepared checkout itself, as the seed project did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use super::home::RunHome;
use super::launch::{find_program, repoint};
use super::make::{
    AHEAD_LIMIT, Job, PlaceSource, Ready, SlotState, copy_ahead, make_place, wrote_nothing,
};
use super::mechanism::{Choice, Mechanism};
use super::overlay::{HeldOverlay, OverlayBase};
use super::slots::{PortBlock, Slot, SlotPool};
use super::tree::Manifest;
use crate::config::Isolation;
use crate::process::env::EnvBuilder;
use crate::runner::RunnerError;
use crate::workspace::copy::Reflinks;

/// The isolation state of one job: slot numbers, the snapshot of the prepared checkout and
/// what each slot keeps between runs. Cloning shares it, so a template cloned for another
/// phase of the same job reuses the slots' copies. Made empty; filled on the first
/// [`Places::enter`].
#[derive(Debug, Clone, Default)]
pub struct Places(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    slots: SlotPool,
    prepared: OnceCell<Arc<PlaceSource>>,
    /// Indexed by slot number; taken by the run holding the slot, given back when it leaves.
    slot_states: Mutex<Vec<SlotState>>,
    /// Names `run` mode copies: `copy-G`.
    copies: AtomicU64,
    /// Replaces `AHEAD_LIMIT` (tests).
    ahead_limit: Option<u64>,
    /// Programs found on a run's `PATH`, by name, `PATH` and working directory: every run of
    /// a job asks the same, and each lookup costs a `stat` per `PATH` entry before the match.
    /// Only finds are kept; a program not found is looked up again.
    programs: Mutex<HashMap<(String, String, PathBuf), String>>,
    /// Set by [`Places::over_borrowed`]: the overlay already probed on a checkout no run may
    /// write, which every run must then see through it.
    borrowed: Option<OverlayBase>,
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
    /// Holds `tmp`, `cache` and, when isolated, `home`.
    scratch: PathBuf,
    cwd: PathBuf,
    /// The prepared checkout, when the run works elsewhere (its paths in the environment are
    /// pointed at the run's copy).
    moved_from: Option<PathBuf>,
    /// The run's own copy (or overlay layers) in `run` mode, left for the slot's next run to
    /// remove (unless preserving).
    remove: Option<PathBuf>,
    /// With the `overlay` mechanism: the mount the run's child enters, and its upper folder.
    overlay: Option<(Arc<HeldOverlay>, PathBuf)>,
    /// The run has a HOME of its own (every mechanism but `shared`).
    own_home: bool,
    /// Under way while the run runs (`run` mode): the removal of the slot's previous copy and
    /// the making of its next one (unless copies are too big to make ahead).
    ahead: Option<tokio::task::JoinHandle<Option<Ready>>>,
    state: SlotState,
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
        let state = self.take_state(slot.number());
        let mechanism = prepared.mechanism;
        // The steady state of the overlay mechanism (the slot's last overlay kept if its run
        // wrote nothing, else its spare taken) makes no mount and copies nothing: a dozen
        // system calls, done here rather than handed to the blocking pool and back on every
        // run. Anything that may fork a holder or copy a tree goes to the pool.
        let cheap = mechanism == Mechanism::Overlay
            && !spec.preserve
            && state
                .stale_overlay
                .as_ref()
                .is_some_and(|held| state.ready.is_some() || wrote_nothing(held));
        let own_copies =
            matches!(mechanism, Mechanism::Copy | Mechanism::Overlay) && !spec.preserve;
        let work = {
            let (runs_dir, prepared) = (spec.runs_dir.to_path_buf(), prepared.clone());
            let (preserve, number) = (spec.preserve, slot.number());
            let fresh_copy = match mechanism {
                Mechanism::Overlay => self.numbered(spec.runs_dir, "layer"),
                _ => self.numbered(spec.runs_dir, "copy"),
            };
            move || {
                let job = Job {
                    runs_dir: &runs_dir,
                    prepared: &prepared,
                    preserve,
                    fresh_copy,
                };
                make_place(&job, number, attempt, state)
            }
        };
        let mut made = if cheap {
            work()?
        } else {
            blocking(work).await?
        };
        let ahead = own_copies.then(|| {
            let stale = made.state.stale.take();
            let stale_overlay = made.state.stale_overlay.take();
            let next = match mechanism {
                // A spare overlay for the run after one that writes, kept once a run in the
                // slot has written: a suite that never writes (`true`, a prepared test
                // binary) never pays for a spare's mount and teardown; one that writes pays
                // one mount on its critical path per slot, once.
                Mechanism::Overlay => (made.after_writer && made.state.ready.is_none())
                    .then(|| self.numbered(spec.runs_dir, "layer")),
                _ => prepared.ahead.then(|| self.numbered(spec.runs_dir, "copy")),
            };
            let idle = stale.is_none() && stale_overlay.is_none() && next.is_none();
            (!idle).then(|| {
                tokio::task::spawn_blocking(move || {
                    copy_ahead(&prepared, stale, stale_overlay, next)
                })
            })
        });
        let ahead = ahead.flatten();
        Ok(RunPlace {
            places: self.clone(),
            slot,
            ports,
            scratch: made.scratch,
            moved_from: made.cwd.as_ref().map(|_| spec.checkout.to_path_buf()),
            cwd: made.cwd.unwrap_or_else(|| spec.checkout.to_path_buf()),
            remove: made.remove,
            overlay: made.overlay,
            own_home: mechanism != Mechanism::Shared,
            ahead,
            state: made.state,
        })
    }

    /// Removes what runs left for their slot's next run to clear (copies, overlay layers),
    /// once the job's last run has left. Overlay layers hold folders only their owner may
    /// remove after opening them up, which removing the job's scratch directory would not do.
    pub async fn finish(&self) {
        let mut holders = Vec::new();
        let mut stale = Vec::new();
        {
            let mut states = self
                .0
                .slot_states
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for state in states.iter_mut() {
                holders.extend(state.stale_overlay.take());
                stale.extend(state.stale.take());
                if let Some(Ready::Overlay(held)) = state.ready.take() {
                    stale.push(held.layer().to_path_buf());
                    holders.push(held);
                }
            }
        }
        if stale.is_empty() && holders.is_empty() {
            return;
        }
        let _ = tokio::task::spawn_blocking(move || {
            for held in holders {
                held.retire();
            }
            for path in stale {
                let _ = super::overlay::remove_layer(&path);
            }
        })
        .await;
    }

    /// Places over a checkout that must never be written (the user's own directory, used in
    /// place): `base` is the overlay the caller probed on it, used for every run. Any other
    /// mechanism is refused, since copies hard-link dependency folders and share `target/`.
    pub fn over_borrowed(base: OverlayBase) -> Places {
        Places(Arc::new(Inner {
            borrowed: Some(base),
            ..Inner::default()
        }))
    }

    /// The mechanism the job's runs use, once the first run has entered.
    pub fn mechanism(&self) -> Option<Mechanism> {
        self.0.prepared.get().map(|p| p.mechanism)
    }

    async fn prepared(&self, spec: &PlaceSpec<'_>) -> Result<Arc<PlaceSource>, RunnerError> {
        let init = || {
            let checkout = spec.checkout.to_path_buf();
            let runs_dir = spec.runs_dir.to_path_buf();
            let choice = Choice::pick(spec.isolation, spec.preserve, spec.env);
            let ahead_limit = self.0.ahead_limit.unwrap_or(AHEAD_LIMIT);
            let borrowed = self.0.borrowed.clone();
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
                let choice = choice.map_err(RunnerError::Isolation)?;
                let (mechanism, overlay) = match borrowed {
                    Some(base) => over_borrowed(choice, base)?,
                    None => choose(choice, &checkout, &runs_dir)?,
                };
                let copies = matches!(mechanism, Mechanism::Copy | Mechanism::Slot);
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
                tracing::debug!(%mechanism, "isolation: mechanism chosen");
                let ahead = mechanism == Mechanism::Copy
                    && manifest.as_ref().is_some_and(|m| {
                        reflinks.supported() == Some(true) || m.own_bytes() <= ahead_limit
                    });
                Ok(Arc::new(PlaceSource {
                    mechanism,
                    overlay,
                    ahead,
                    manifest,
                    reflinks,
                    home: if mechanism != Mechanism::Shared {
                        RunHome::list(home.as_deref())
                    } else {
                        RunHome::default()
                    },
                }))
            })
        };
        self.0.prepared.get_or_try_init(init).await.cloned()
    }

    /// `copy-G` or `layer-G`: G counts per job, so names are never reused within it.
    fn numbered(&self, runs_dir: &Path, prefix: &str) -> PathBuf {
        runs_dir.join(format!(
            "{prefix}-{}",
            self.0.copies.fetch_add(1, Ordering::Relaxed)
        ))
    }

    fn take_state(&self, slot: u32) -> SlotState {
        let mut states = self
            .0
            .slot_states
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        states
            .get_mut(slot as usize)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn give_back_state(&self, slot: u32, state: SlotState) {
        let mut states = self
            .0
            .slot_states
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = slot as usize;
        if states.len() <= slot {
            states.resize_with(slot + 1, SlotState::default);
        }
        states[slot] = state;
    }
}

/// The mechanism `choice` comes to on this machine, with the overlay it probed. Without an
/// overlay (a container whose seccomp profile refuses namespaces, as Docker's default does) the
/// cheapest is a slot's copy reset between runs, which only redoes what a run changed: a copy
/// per run costs more even where the filesystem clones files (`scripts/bench-isolation.sh`,
/// a 50 MB repository with a 200 MB virtualenv: a copy per run about 290 ms on XFS with
/// reflink, a slot 32 ms a run on ext4). A forced overlay the machine refuses is an error: the
/// operator asked for it.
fn choose(
    choice: Choice,
    checkout: &Path,
    runs_dir: &Path,
) -> Result<(Mechanism, Option<OverlayBase>), RunnerError> {
    match choice {
        Choice::Fixed(Mechanism::Overlay) => match OverlayBase::probe(checkout, runs_dir) {
            Ok(base) => Ok((Mechanism::Overlay, Some(base))),
            Err(reason) => Err(RunnerError::Isolation(format!(
                "the overlay mechanism was asked for but does not work here: {reason}"
            ))),
        },
        Choice::Fixed(mechanism) => Ok((mechanism, None)),
        Choice::Cheapest => match OverlayBase::probe(checkout, runs_dir) {
            Ok(base) => Ok((Mechanism::Overlay, Some(base))),
            Err(reason) => {
                tracing::debug!(%reason, "isolation: no overlay mounts here");
                Ok((Mechanism::Slot, None))
            }
        },
    }
}

/// The mechanism over a borrowed checkout: its probed overlay, unless the job or the
/// operator asks for another, which would let runs write into the user's directory.
fn over_borrowed(
    choice: Choice,
    base: OverlayBase,
) -> Result<(Mechanism, Option<OverlayBase>), RunnerError> {
    match choice {
        Choice::Cheapest | Choice::Fixed(Mechanism::Overlay) => {
            Ok((Mechanism::Overlay, Some(base)))
        }
        Choice::Fixed(other) => Err(RunnerError::Isolation(format!(
            "the checkout is a local directory used in place, which only the overlay \
             mechanism keeps runs from writing; `{other}` was asked for"
        ))),
    }
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
    /// The run's own scratch folder (holding `tmp`, `cache`, `home`), emptied before each
    /// run: where per-run reports are written.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The run's working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Where this process finds what the run wrote into its working directory: the overlay's
    /// upper folder (only what the run wrote, so a search of it costs nothing when the run
    /// wrote little), else the working directory itself.
    pub fn written(&self) -> &Path {
        match &self.overlay {
            Some((_, upper)) => upper,
            None => &self.cwd,
        }
    }

    /// The overlay the run's child must enter before `exec` (the `overlay` mechanism).
    pub fn mount(&self) -> Option<&Arc<HeldOverlay>> {
        self.overlay.as_ref().map(|(mount, _)| mount)
    }

    /// The slot (`FLAKY_SLOT`): 0 to `parallelism - 1`, unique among the job's runs in flight.
    pub fn slot(&self) -> u32 {
        self.slot.number()
    }

    /// `program` as found on the `PATH` of `env` (relative entries from the working directory),
    /// or unchanged when it is a path already or is not found (spawning then reports it).
    ///
    /// Why here: a bare name with a changed `PATH` makes the standard library fork the whole
    /// process and try `execve` once per `PATH` entry; a path lets it use `posix_spawn`, which
    /// does not copy the worker's page tables. With many short runs that is most of the cost
    /// of starting one.
    pub fn program(&self, program: &str, env: &[(String, String)]) -> String {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let key = (program.to_string(), path, self.cwd.clone());
        let programs = &self.places.0.programs;
        let lock = || programs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = lock().get(&key) {
            return found.clone();
        }
        let found = find_program(program, env, &self.cwd);
        if found != program {
            lock().insert(key, found.clone());
        }
        found
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
        let tmp = self.scratch.join("tmp").display().to_string();
        for name in ["TMPDIR", "TMP", "TEMP"] {
            env.set(name, tmp.clone());
        }
        env.set(
            "XDG_CACHE_HOME",
            self.scratch.join("cache").display().to_string(),
        );
        if self.own_home {
            env.set("HOME", self.scratch.join("home").display().to_string());
        }
        env.set("FLAKY_SLOT", self.slot().to_string());
        env.set("FLAKY_PORT_BASE", self.port_base().to_string());
        env
    }

    /// Ends the run's use of the place: what the slot keeps goes back to it (to be reset
    /// before its next run, which also removes this run's `run` mode copy unless
    /// `preserve_temp_dir`). Waits for the work done ahead during the run (usually finished
    /// by then), so nothing of the job's is still writing once its last run has left.
    /// Removal failures are ignored: the job's scratch directory is removed after the job.
    pub async fn leave(mut self) {
        let mut state = std::mem::take(&mut self.state);
        if let Some(ahead) = self.ahead.take()
            && let Some(ready) = ahead.await.ok().flatten()
        {
            state.ready = Some(ready);
        }
        state.stale = self.remove.take();
        state.stale_overlay = self.overlay.take().map(|(held, _)| held);
        self.places.give_back_state(self.slot.number(), state);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Enters and leaves `runs` places one after the other in `run` mode; each must find the
    /// checkout as prepared (the previous one changed it), and the runs directory must never
    /// hold more than `most` copies.
    async fn run_mode_copies(places: Places, runs: u32, most: usize) {
        let checkout = tempfile::tempdir().expect("tempdir");
        std::fs::write(checkout.path().join("state.txt"), "prepared").expect("write");
        let scratch = tempfile::tempdir().expect("tempdir");
        let runs_dir = scratch.path().join("runs");
        let force_copy = [(
            super::super::mechanism::FORCE_VARIABLE.to_string(),
            "copy".to_string(),
        )];
        let spec = PlaceSpec {
            isolation: Isolation::Run,
            checkout: checkout.path(),
            runs_dir: &runs_dir,
            preserve: false,
            env: &force_copy,
        };
        let mut cwds = BTreeSet::new();
        for attempt in 0..runs {
            let place = places.enter(&spec, attempt).await.expect("enter");
            let state = place.cwd().join("state.txt");
            assert_eq!(std::fs::read_to_string(&state).expect("read"), "prepared");
            std::fs::write(&state, format!("run {attempt}")).expect("write");
            cwds.insert(place.cwd().to_path_buf());
            place.leave().await;
            let copies = std::fs::read_dir(&runs_dir)
                .expect("runs dir")
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("copy-"))
                })
                .count();
            assert!(copies <= most, "{copies} copies after run {attempt}");
        }
        assert_eq!(cwds.len(), runs as usize, "every run had a copy of its own");
        assert_eq!(
            std::fs::read_to_string(checkout.path().join("state.txt")).expect("read"),
            "prepared"
        );
    }

    /// Where the overlay is refused (its mount options cannot hold a comma in the checkout's
    /// path) the default falls back to slots, cloning filesystem or not, and a forced
    /// overlay is an error.
    #[test]
    fn a_refused_overlay_falls_back_to_slots() {
        let scratch = tempfile::tempdir().expect("tempdir");
        let checkout = scratch.path().join("flaky,checkout");
        std::fs::create_dir(&checkout).expect("checkout");
        std::fs::write(checkout.join("state.txt"), "prepared").expect("write");
        let runs_dir = scratch.path().join("runs");
        std::fs::create_dir(&runs_dir).expect("runs dir");
        let (mechanism, overlay) =
            choose(Choice::Cheapest, &checkout, &runs_dir).expect("a fallback");
        assert_eq!(mechanism, Mechanism::Slot);
        assert!(overlay.is_none());
        let forced = choose(Choice::Fixed(Mechanism::Overlay), &checkout, &runs_dir);
        assert!(
            forced.is_err(),
            "a forced overlay the path refuses is an error"
        );
    }

    #[tokio::test]
    async fn run_copies_made_ahead_are_fresh_and_old_ones_go() {
        // The copy in use, the next one, the previous one (removed during the next run).
        run_mode_copies(Places::default(), 6, 3).await;
    }

    #[tokio::test]
    async fn large_run_copies_are_made_when_the_run_starts_and_old_ones_go() {
        let places = Places(Arc::new(Inner {
            ahead_limit: Some(0),
            ..Inner::default()
        }));
        run_mode_copies(places, 6, 2).await;
    }
}

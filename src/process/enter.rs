//! Starting a run's child inside its overlay ([`spawn_in`]) without forking this process.
//!
//! Why: a child that must enter a namespace before `exec` needs code run between `fork` and
//! `exec` (`pre_exec`), and with it the standard library forks the whole process, copying its
//! page tables, instead of using `posix_spawn` (a `vfork`-like clone that copies nothing).
//! With many short runs that copy is most of what starting one costs. When the overlay lives
//! in a mount namespace only (the process may mount: root with `CAP_SYS_ADMIN`), the calling
//! thread can join it instead: once per thread it takes file-system attributes of its own
//! (`unshare(CLONE_FS)`), then for each run it enters the run's mount namespace with `setns`,
//! spawns the child there with `posix_spawn` (the child inherits the thread's namespace),
//! and goes back to the process's namespace and its own working directory, so it never keeps
//! a finished run's namespace alive. Spawning on the calling thread (an async worker) rather
//! than handing each run to a dedicated spawning thread saves two thread hand-offs per run.
//! A user namespace cannot be joined by one thread of a threaded process; those overlays keep
//! the `pre_exec` path, as does a thread that cannot be set up.

use std::cell::OnceCell;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use nix::sched::{CloneFlags, setns, unshare};
use tokio::process::{Child, Command};

use super::HeldOverlay;

/// What a thread needs to come back after spawning in an overlay: the process's mount
/// namespace and the thread's working directory (entering a namespace moves a thread to its
/// root).
struct OwnFs {
    home: File,
    cwd: File,
}

thread_local! {
    /// This thread's file-system attributes, unshared on first use; `None` when that failed.
    static OWN_FS: OnceCell<Option<OwnFs>> = const { OnceCell::new() };
}

/// Starts `command` inside `overlay`: from this thread when the overlay can be joined by a
/// thread, else by forking with the overlay entered before `exec`.
pub async fn spawn_in(overlay: Arc<HeldOverlay>, mut command: Command) -> io::Result<Child> {
    if overlay.joinable_by_thread() {
        let spawned = OWN_FS.with(|own| {
            own.get_or_init(own_fs)
                .as_ref()
                .map(|own| spawn_inside(own, &overlay, &mut command))
        });
        if let Some(spawned) = spawned {
            return spawned;
        }
    }
    // Safety: `enter` only makes system calls on strings made before the fork.
    unsafe {
        command.pre_exec(move || overlay.enter().map_err(io::Error::from));
    }
    command.spawn()
}

/// Gives this thread file-system attributes of its own, remembering where it was.
fn own_fs() -> Option<OwnFs> {
    let setup = File::open("/proc/thread-self/ns/mnt").and_then(|home| {
        let cwd = File::open(".")?;
        unshare(CloneFlags::CLONE_FS).map_err(io::Error::from)?;
        Ok(OwnFs { home, cwd })
    });
    match setup {
        Ok(own) => Some(own),
        Err(error) => {
            tracing::debug!(%error, "isolation: overlays are entered by forking");
            None
        }
    }
}

/// Enters the overlay's mount namespace, spawns, and goes back to the process's namespace
/// and this thread's working directory whatever happened. Makes no `.await`: the thread
/// runs nothing else while it is in the run's namespace.
fn spawn_inside(own: &OwnFs, overlay: &HeldOverlay, command: &mut Command) -> io::Result<Child> {
    // A thread started by this one since it unshared (the runtime starts blocking-pool
    // threads from whichever thread asks) shares its attributes again, and `setns` refuses
    // a thread that shares them (EINVAL): unshare once more and retry.
    let joined = match overlay.join_thread() {
        Err(nix::errno::Errno::EINVAL) => {
            unshare(CloneFlags::CLONE_FS).and_then(|()| overlay.join_thread())
        }
        other => other,
    };
    let child = match joined {
        Ok(()) => command.spawn(),
        Err(errno) => Err(io::Error::from(errno)),
    };
    let back = setns(own.home.as_fd(), CloneFlags::CLONE_NEWNS)
        .and_then(|()| nix::unistd::fchdir(own.cwd.as_fd()));
    if let Err(errno) = back {
        // Not expected with a namespace we hold open. Were it to happen, this thread would go
        // on in the run's namespace, which differs from the process's only at the checkout,
        // until its next spawn enters another one.
        tracing::error!(%errno, "isolation: a thread could not leave an overlay");
    }
    child
}

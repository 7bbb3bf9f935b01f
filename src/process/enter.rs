//! Starting a run's child inside its overlay ([`spawn_in`]) without forking this process.
//!
//! Why: a child that must enter a namespace before `exec` needs code run between `fork` and
//! `exec` (`pre_exec`), and with it the standard library forks the whole process, copying its
//! page tables, instead of using `posix_spawn` (a `vfork`-like clone that copies nothing).
//! With many short runs that copy is most of what starting one costs. When the overlay lives
//! in a mount namespace only (the process may mount: root with `CAP_SYS_ADMIN`), one thread
//! of this process can join it instead: a dedicated thread with file-system attributes of its
//! own (`unshare(CLONE_FS)`) enters the run's mount namespace with `setns`, spawns the child
//! there with `posix_spawn` (the child inherits the thread's namespace), and goes back to the
//! process's own namespace, so it never keeps a finished run's namespace alive. A user
//! namespace cannot be joined by one thread of a threaded process; those overlays keep the
//! `pre_exec` path, as does any machine where the thread cannot be set up.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, OnceLock, mpsc};

use nix::sched::{CloneFlags, setns, unshare};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::HeldOverlay;

/// One child to start inside `overlay`'s namespace. `handle` is the caller's runtime, which
/// the child is registered with (its exit is reported through that runtime's driver).
struct Request {
    overlay: Arc<HeldOverlay>,
    command: Command,
    handle: tokio::runtime::Handle,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// The spawning thread's queue, started on first use; `Err` when it could not be set up.
static SPAWNER: OnceLock<Result<mpsc::Sender<Request>, String>> = OnceLock::new();

/// Starts `command` inside `overlay`: through the spawning thread when the overlay can be
/// joined by a thread, else by forking with the overlay entered before `exec`.
pub async fn spawn_in(overlay: Arc<HeldOverlay>, mut command: Command) -> io::Result<Child> {
    let queue = match SPAWNER.get_or_init(start) {
        Ok(queue) if overlay.joinable_by_thread() => queue,
        _ => {
            // Safety: `enter` only makes system calls on strings made before the fork.
            unsafe {
                command.pre_exec(move || overlay.enter().map_err(io::Error::from));
            }
            return command.spawn();
        }
    };
    let (reply, answer) = oneshot::channel();
    let request = Request {
        overlay,
        command,
        handle: tokio::runtime::Handle::current(),
        reply,
    };
    queue
        .send(request)
        .map_err(|_| io::Error::other("the overlay spawning thread has stopped"))?;
    answer
        .await
        .map_err(|_| io::Error::other("the overlay spawning thread dropped a run"))?
}

/// Starts the spawning thread and waits until it has file-system attributes of its own.
fn start() -> Result<mpsc::Sender<Request>, String> {
    let (queue, requests) = mpsc::channel::<Request>();
    let (ready, set_up) = mpsc::channel::<Result<(), String>>();
    let thread = std::thread::Builder::new()
        .name("overlay-spawn".into())
        .spawn(move || {
            let home = match File::open("/proc/thread-self/ns/mnt")
                .map_err(|e| e.to_string())
                .and_then(|home| {
                    unshare(CloneFlags::CLONE_FS)
                        .map(|()| home)
                        .map_err(|e| e.to_string())
                }) {
                Ok(home) => {
                    let _ = ready.send(Ok(()));
                    home
                }
                Err(reason) => {
                    let _ = ready.send(Err(reason));
                    return;
                }
            };
            for request in requests {
                spawn_inside(&home, request);
            }
        });
    if let Err(error) = thread {
        return Err(error.to_string());
    }
    match set_up.recv() {
        Ok(Ok(())) => Ok(queue),
        Ok(Err(reason)) => {
            tracing::debug!(%reason, "isolation: overlays are entered by forking");
            Err(reason)
        }
        Err(_) => Err("the overlay spawning thread ended".into()),
    }
}

/// On the spawning thread: enters the overlay's mount namespace, spawns, and goes back to
/// `home` (the process's namespace) whatever happened.
fn spawn_inside(home: &File, request: Request) {
    let Request {
        overlay,
        mut command,
        handle,
        reply,
    } = request;
    let _runtime = handle.enter();
    let child = match overlay.join_thread() {
        Ok(()) => command.spawn(),
        Err(errno) => Err(io::Error::from(errno)),
    };
    if let Err(errno) = setns(home.as_fd(), CloneFlags::CLONE_NEWNS) {
        // Every spawn enters its run's namespace first, so the next one is still right; only
        // the finished run's namespace lingers until then.
        tracing::warn!(%errno, "isolation: the spawning thread could not leave an overlay");
    }
    let _ = reply.send(child);
}

//! The `overlay` mechanism: each run's child, between `fork` and `exec`, enters a mount
//! namespace of its own (and a user namespace when it lacks the right to mount) and mounts an
//! overlay on top of the prepared checkout's own path: the checkout is the read-only lower
//! layer, a per-run folder on the scratch filesystem the upper one. The run sees the checkout
//! at its real path, every write lands in its upper folder, and nothing is copied: the cost
//! of a run's place no longer depends on the size of the repository.
//!
//! [`OverlayBase`] is what the job-start probe found to work; [`OverlayMount`] is one run's
//! mount, all strings prepared before the fork so that [`OverlayMount::enter`] only makes
//! system calls (it runs in the forked child, where allocating is not allowed).
//!
//! Why the mount is made by a holder process ([`HeldOverlay`]) and not by the run's child:
//! tearing down a mount namespace that holds an overlay (at the exit of its last process)
//! waits for an RCU grace period and the overlay's superblock to go, 10 to 25 ms on a loaded
//! machine; a run whose own child held the namespace had its exit, and so its wall time,
//! delayed by that much. A holder, made one run ahead while the slot's previous run runs,
//! enters the namespaces, mounts, and stops itself; the run's child only `setns`es into its
//! namespaces (tens of microseconds), and the holder is killed and reaped in the background
//! after the run. Each run still gets a fresh namespace and a fresh upper folder.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{Signal, kill, raise};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub use crate::process::HeldOverlay;
use crate::process::held::FolderStamp;

/// Namespaces a run's child needs, as the probe found them to work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespaces {
    /// A mount namespace only: the process may mount already (root with `CAP_SYS_ADMIN`).
    Mount,
    /// A user namespace mapping the process's own uid and gid, and a mount namespace owned by
    /// it: unprivileged overlay mounts (Linux 5.11 and later). `userxattr` keeps overlay's
    /// bookkeeping in `user.*` attributes, which an unprivileged mount may write.
    User { userxattr: bool },
}

/// What every run's mount is made from: the checkout (lower layer and mount point) and the
/// namespaces that worked at job start.
#[derive(Debug, Clone)]
pub struct OverlayBase {
    checkout: PathBuf,
    namespaces: Namespaces,
    /// Mounted with `volatile` (Linux 5.10 and later): the upper folder is thrown away after
    /// the run, so overlay need not sync it to disk when the run's namespace goes, which
    /// otherwise costs a journal commit of the scratch filesystem per run.
    volatile: bool,
}

/// One run's overlay, ready to be entered in its child.
#[derive(Debug, Clone)]
pub struct OverlayMount {
    target: CString,
    options: CString,
    /// The user namespace to mount in, when the process may not mount in its own
    /// ([`super::namespace::user_namespace`]).
    user: Option<Arc<File>>,
    /// A file the probe creates through the mount (not used for runs).
    touch: Option<CString>,
}

/// The per-run folders of a mount: `upper` (what the run wrote) and `work` (overlay's own),
/// both in `layer`, on one filesystem.
pub fn layer_dirs(layer: &Path) -> (PathBuf, PathBuf) {
    (layer.join("upper"), layer.join("work"))
}

impl OverlayBase {
    /// Tries the overlay over `checkout` for real, once per way of getting the right to
    /// mount, with layers under `scratch`: a forked child mounts it and creates a file through
    /// it, which must land in the upper folder and not in the checkout. The first way that
    /// works is kept. `Err` gives the reason the last one failed. Blocking.
    pub fn probe(checkout: &Path, scratch: &Path) -> Result<OverlayBase, String> {
        if !cfg!(target_os = "linux") {
            return Err("overlay mounts need Linux".into());
        }
        let mut last = String::from("no way to mount was tried");
        let ways = [
            Namespaces::Mount,
            Namespaces::User { userxattr: true },
            Namespaces::User { userxattr: false },
        ]
        .into_iter()
        .flat_map(|namespaces| [(namespaces, true), (namespaces, false)]);
        for (namespaces, volatile) in ways {
            let base = OverlayBase {
                checkout: checkout.to_path_buf(),
                namespaces,
                volatile,
            };
            match base.try_once(scratch) {
                Ok(()) => return Ok(base),
                Err(reason) => last = reason,
            }
        }
        Err(last)
    }

    fn try_once(&self, scratch: &Path) -> Result<(), String> {
        let layer = scratch.join(format!(".overlay-probe-{}", std::process::id()));
        let _ = remove_layer(&layer);
        let result = self.try_in(&layer);
        let _ = remove_layer(&layer);
        result
    }

    fn try_in(&self, layer: &Path) -> Result<(), String> {
        let name = format!(".flaky-overlay-probe-{}", std::process::id());
        let mut mount = self.mount(layer).map_err(|e| e.to_string())?;
        mount.touch = Some(path_c(&self.checkout.join(&name)).map_err(|e| e.to_string())?);
        // Safety: the child only makes system calls on memory prepared before the fork, then
        // leaves with `_exit`, which is what POSIX allows after forking a threaded process.
        let child = match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                let code = match mount.enter() {
                    Ok(()) => 0,
                    Err(errno) => errno as i32,
                };
                unsafe { nix::libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => child,
            Err(errno) => return Err(format!("cannot fork: {errno}")),
        };
        match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => {}
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                return Err(nix::errno::Errno::from_raw(code).desc().to_string());
            }
            other => return Err(format!("the probe ended as {other:?}")),
        }
        let (upper, _) = layer_dirs(layer);
        if !upper.join(&name).exists() || self.checkout.join(&name).exists() {
            let _ = std::fs::remove_file(self.checkout.join(&name));
            return Err("a write through the overlay did not land in its upper folder".into());
        }
        Ok(())
    }

    /// The mount for a run whose layer folder is `layer` (made here, with its `upper` and
    /// `work`). Blocking.
    pub fn mount(&self, layer: &Path) -> io::Result<OverlayMount> {
        let (upper, work) = layer_dirs(layer);
        std::fs::create_dir(layer)?;
        std::fs::create_dir(&upper)?;
        std::fs::create_dir(&work)?;
        let lower = option_path(&self.checkout)?;
        let mut options = format!(
            "lowerdir={lower},upperdir={},workdir={}",
            option_path(&upper)?,
            option_path(&work)?
        );
        if self.volatile {
            options.push_str(",volatile");
        }
        let user = match self.namespaces {
            Namespaces::Mount => None,
            Namespaces::User { userxattr } => {
                if userxattr {
                    options.push_str(",userxattr");
                }
                Some(super::namespace::user_namespace().map_err(io::Error::other)?)
            }
        };
        Ok(OverlayMount {
            target: path_c(&self.checkout)?,
            options: CString::new(options)?,
            user,
            touch: None,
        })
    }
}

impl OverlayBase {
    /// Makes the layer folder `layer`, and a holder process with the run's overlay mounted on
    /// the checkout in its own namespaces, stopped until retired. The holder is the leader of
    /// a process group of its own: if this process dies, the group is orphaned with a stopped
    /// member, and the kernel's `SIGHUP` ends it. Blocking.
    pub fn hold(&self, layer: &Path) -> io::Result<HeldOverlay> {
        let mount = self.mount(layer)?;
        // The holder sends its mount namespace back: this process, not dumpable, may not
        // open a non-root holder's `/proc/PID/ns` (see `namespace`).
        let (ours, theirs) = super::namespace::socket_pair()?;
        // Safety: the child only makes system calls on memory prepared before the fork, then
        // stops until killed or leaves with `_exit`.
        let holder = match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                // The holder never execs: any descriptor it kept would stay open for as long
                // as it lives, among them the pipe another thread's spawn (forked at the same
                // time) waits to see closed at its child's `exec`, which hung that spawn.
                let socket = theirs.as_raw_fd();
                close_inherited([socket, mount.user.as_ref().map_or(-1, |u| u.as_raw_fd())]);
                let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
                let entered = mount.enter().and_then(|()| {
                    let mnt = super::namespace::open_own(c"/proc/self/ns/mnt")?;
                    super::namespace::send_fds(socket, &[mnt.as_raw_fd()])
                });
                let code = match entered {
                    Ok(()) => loop {
                        let _ = raise(Signal::SIGSTOP);
                    },
                    Err(errno) => errno as i32,
                };
                unsafe { nix::libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => child,
        };
        drop(theirs);
        let fail = |error: io::Error| {
            let _ = kill(holder, Signal::SIGKILL);
            let _ = waitpid(holder, None);
            error
        };
        match waitpid(holder, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Stopped(..)) => {}
            Ok(WaitStatus::Exited(_, code)) => return Err(io::Error::from_raw_os_error(code)),
            other => {
                return Err(fail(io::Error::other(format!(
                    "the overlay's holder process ended as {other:?}"
                ))));
            }
        }
        let mnt = super::namespace::recv_fds(ours.as_raw_fd())
            .map_err(fail)?
            .remove(0);
        let user = match &mount.user {
            Some(user) => Some(user.try_clone().map_err(fail)?),
            None => None,
        };
        // Taken once mounted: whatever the mount itself does to the upper folder is in it.
        let pristine = FolderStamp::of(&layer_dirs(layer).0).map_err(fail)?;
        Ok(HeldOverlay::new(
            holder,
            user,
            mnt,
            mount.target,
            layer.to_path_buf(),
            Some(pristine),
        ))
    }
}

impl OverlayMount {
    /// Enters the run's namespaces and mounts its overlay on the checkout, then moves the
    /// process onto the mounted checkout (its working directory was entered before the mount).
    /// Called in the forked child before `exec`: system calls only, no allocation.
    pub fn enter(&self) -> nix::Result<()> {
        if let Some(user) = &self.user {
            setns(user.as_fd(), CloneFlags::CLONE_NEWUSER)?;
        }
        unshare(CloneFlags::CLONE_NEWNS)?;
        // The run's mounts must not propagate back to the machine's namespace.
        mount(
            None::<&CStr>,
            c"/",
            None::<&CStr>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&CStr>,
        )?;
        mount(
            Some(c"overlay"),
            self.target.as_c_str(),
            Some(c"overlay"),
            MsFlags::empty(),
            Some(self.options.as_c_str()),
        )?;
        nix::unistd::chdir(self.target.as_c_str())?;
        if let Some(touch) = &self.touch {
            nix::fcntl::open(
                touch.as_c_str(),
                OFlag::O_CREAT | OFlag::O_WRONLY,
                Mode::from_bits_truncate(0o600),
            )?;
        }
        Ok(())
    }
}

/// Closes every descriptor above stderr but those in `keep` (`-1` for none), in a forked
/// child: system calls only.
fn close_inherited(mut keep: [RawFd; 2]) {
    keep.sort_unstable();
    let mut from: RawFd = 3;
    for kept in keep.into_iter().chain([RawFd::MAX]) {
        if kept < from {
            continue;
        }
        if kept > from {
            close_between(from, kept - 1);
        }
        from = kept.saturating_add(1);
    }
}

/// Closes descriptors `first..=last`.
fn close_between(first: RawFd, last: RawFd) {
    // Safety: `close_range` and `close` only close descriptors of this (forked,
    // single-threaded) process.
    unsafe {
        if nix::libc::close_range(first as u32, last as u32, 0) != 0 {
            for fd in first..=last.min(4095) {
                let _ = nix::libc::close(fd);
            }
        }
    }
}

fn path_c(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)
}

/// `path` as overlay's mount options can hold it: they are split at `,` and layers at `:`.
fn option_path(path: &Path) -> io::Result<String> {
    match path.to_str() {
        Some(text) if !text.contains([',', ':', '\\']) => Ok(text.to_string()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} cannot be an overlay layer (its name has `,`, `:` or `\\`, or is not UTF-8)",
                path.display()
            ),
        )),
    }
}

/// Removes a run's layer folder. Overlay makes `work/work` and the folders in it with mode
/// 000, which only root may enter as they are; their owner gives itself access first.
pub fn remove_layer(layer: &Path) -> io::Result<()> {
    match super::tree::remove_any(layer) {
        Ok(()) => Ok(()),
        Err(_) => {
            open_up(&layer_dirs(layer).1);
            super::tree::remove_any(layer)
        }
    }
}

/// Gives the owner access to `dir` and the folders under it (a handful, made by overlay).
fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&entry.path());
            }
        }
    }
}

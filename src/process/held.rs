//! Namespaces a child enters before `exec` ([`HeldOverlay`]): a mount namespace (and a user
//! namespace when one was needed) kept alive by a stopped holder process. The isolation layer
//! (`runner::isolation::overlay`) makes them; spawning only needs to enter them, which is why
//! the type lives here, below both: a [`ProcessSpec`](super::ProcessSpec) carries one without
//! the process layer knowing how runs are isolated.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// One run's overlay, mounted in namespaces of its own that a stopped holder process keeps
/// alive: the run's child enters them with [`HeldOverlay::enter`]. [`HeldOverlay::retire`]
/// (or dropping it) kills and reaps the holder, which blocks while the namespace goes.
#[derive(Debug)]
pub struct HeldOverlay {
    holder: Pid,
    /// The holder's user namespace, when the mount needed one.
    user: Option<File>,
    mnt: File,
    target: CString,
    layer: PathBuf,
    /// The upper folder as it was once the overlay was mounted, before any run used it.
    pristine: Option<FolderStamp>,
    retired: AtomicBool,
}

/// What a folder's own inode says of it: mode, owner and change time. A run that changes
/// the overlay's root (`chmod .`, `touch .`, an extended attribute, an entry made and removed
/// again) changes its upper folder's change time, which the kernel keeps fine-grained once it
/// has been read (multigrain timestamps, Linux 6.13), so two stamps that are equal mean the
/// folder's own metadata and entries were not touched in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStamp {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FolderStamp {
    /// The stamp of `path` now (the folder itself, not followed through a link).
    pub fn of(path: &Path) -> std::io::Result<FolderStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        Ok(FolderStamp {
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

impl HeldOverlay {
    /// Takes charge of `holder`, a stopped process whose namespaces (`user` when the mount
    /// needed one, `mnt`) hold the run's overlay mounted on `target`; `layer` is the run's layer
    /// folder. From now on the holder is killed and reaped when this value is retired or
    /// dropped.
    pub fn new(
        holder: Pid,
        user: Option<File>,
        mnt: File,
        target: CString,
        layer: PathBuf,
        pristine: Option<FolderStamp>,
    ) -> HeldOverlay {
        HeldOverlay {
            holder,
            user,
            mnt,
            target,
            layer,
            pristine,
            retired: AtomicBool::new(false),
        }
    }

    /// The run's layer folder (`upper` and `work`).
    pub fn layer(&self) -> &Path {
        &self.layer
    }

    /// The stamp of the upper folder taken when the overlay was mounted, if one was taken.
    pub fn pristine(&self) -> Option<FolderStamp> {
        self.pristine
    }

    /// Enters the holder's namespaces and moves onto the mounted checkout (entering a mount
    /// namespace moves the process to its root). Called in the forked child before `exec`:
    /// system calls only.
    pub fn enter(&self) -> nix::Result<()> {
        if let Some(user) = &self.user {
            setns(user.as_fd(), CloneFlags::CLONE_NEWUSER)?;
        }
        setns(self.mnt.as_fd(), CloneFlags::CLONE_NEWNS)?;
        nix::unistd::chdir(self.target.as_c_str())
    }

    /// Whether one thread of this process can join the overlay ([`HeldOverlay::join_thread`]):
    /// a mount namespace alone can be, a user namespace only by a single-threaded process.
    pub fn joinable_by_thread(&self) -> bool {
        self.user.is_none()
    }

    /// Moves the calling thread into the overlay's mount namespace (which also moves it to
    /// that namespace's root). The thread must not share its file-system attributes with
    /// other threads (`unshare(CLONE_FS)`), and must leave again.
    pub fn join_thread(&self) -> nix::Result<()> {
        setns(self.mnt.as_fd(), CloneFlags::CLONE_NEWNS)
    }

    /// Kills and reaps the holder, once; blocks while its namespaces go (some milliseconds).
    /// Call it after the run, off the async threads.
    pub fn retire(&self) {
        if !self.retired.swap(true, Ordering::AcqRel) {
            let _ = kill(self.holder, Signal::SIGKILL);
            let _ = waitpid(self.holder, None);
        }
    }
}

impl Drop for HeldOverlay {
    fn drop(&mut self) {
        self.retire();
    }
}

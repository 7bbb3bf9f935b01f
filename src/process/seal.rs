//! What keeps a run's code out of the detector itself ([`seal`]), done once at start, so that
//! no per-run step (and no `pre_exec`, which would turn every `posix_spawn` into a `fork`) is
//! needed. Runs execute as the detector's user: the allow-listed environment keeps secrets out
//! of theirs, but without this a run could still read them from the detector's
//! `/proc/PID/environ` (or its memory), reach the borrowed checkout through
//! `/proc/PID/cwd` and `/proc/PID/root`, or, as root, unmount its overlay.
//!
//! Three steps, all made before any thread exists:
//! - the values in the process's initial environment block, which is what
//!   `/proc/PID/environ` shows whatever `environ` says now, are moved to the heap and the block
//!   is overwritten: an ancestor that holds the same block (the PID-1 init forked from this
//!   process) shows nothing either. This step is what keeps the values from a root run: on
//!   Linux 6.18 a root process without `CAP_SYS_PTRACE` was still let read a non-dumpable root
//!   process's `environ` (its `mem`, `cwd`, `root` and `fd` were refused);
//! - the process becomes non-dumpable: its `/proc/PID/{mem,cwd,root,fd,ns}` are then open
//!   only to a process with `CAP_SYS_PTRACE`, which same-user runs lack, its `environ` is
//!   root's (closed to other users), and core dumps of it are off. Forked children (the overlay holders, the init) inherit this; an `exec`
//!   resets it, so runs themselves stay dumpable for their own tools;
//! - when it holds them, `CAP_SYS_PTRACE` and `CAP_DAC_READ_SEARCH` are dropped from the
//!   bounding set (and the inheritable and ambient sets): the detector keeps them for itself,
//!   but no program it `exec`s, root or not, can have them, so a root run can neither read a
//!   non-dumpable process (nor any process holding a capability it lacks) nor open files by
//!   handle around its overlay.
//!
//! Then, once the process is what it will stay (after the PID-1 init forked), [`confine_runs`]
//! takes `CAP_SYS_ADMIN` out of the bounding set too, so that a root run cannot unmount its
//! overlay and write the directory under it. The detector keeps it in its effective set: it
//! mounts overlays and enters their namespaces itself, from forked holders and its own
//! threads, none of which `exec`s. The one program it `exec`s that needs it, the pytest fork
//! server (it enters each run's mount namespace), is started by [`spawn_privileged`] from a
//! thread made before the drop (the bounding set is a thread's, inherited by the threads and
//! programs it starts), and drops it itself in each run it forks.

use std::ffi::{CStr, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;
use std::sync::mpsc;

use nix::libc;

/// Capabilities no program the detector starts may hold: reading or tracing other processes,
/// and opening files by handle past mounts (`open_by_handle_at`).
const DROPPED: [u32; 2] = [
    19, // CAP_SYS_PTRACE
    2,  // CAP_DAC_READ_SEARCH
];

/// `CAP_SYS_ADMIN`: mounting and unmounting, entering mount namespaces.
const SYS_ADMIN: u32 = 21;

/// A spawn handed to the thread that may still start privileged programs.
type Launch = Box<dyn FnOnce() + Send>;

/// The thread made by [`confine_runs`] before it narrowed the bounding set. Process-wide by
/// nature: the bounding set is a property of this process's threads, set once at start, and
/// no caller can pass a thread that predates it down to where a fork server starts.
static PRIVILEGED: OnceLock<mpsc::Sender<Launch>> = OnceLock::new();

/// What [`seal`] did, for the log and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sealed {
    /// Environment values overwritten in the initial block.
    pub scrubbed: usize,
    /// Whether the process is now non-dumpable.
    pub undumpable: bool,
    /// Whether the capabilities in [`DROPPED`] are out of the bounding set (also true when
    /// the process never had the right to change it and they were not in it).
    pub bounded: bool,
}

/// Seals the detector. Must run first in `main`, while the process has one thread: it
/// rewrites the environment (`setenv`), which is not safe once other threads may read it.
pub fn seal() -> Sealed {
    // Safety: called from `main` before any thread exists (the caller's contract).
    let scrubbed = unsafe { scrub_initial_environment() };
    // Safety: plain `prctl` calls on this process.
    let undumpable = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == 0;
    let bounded = drop_capabilities(&DROPPED);
    Sealed {
        scrubbed,
        undumpable,
        bounded,
    }
}

/// Copies every `NAME=value` of the initial environment block to the heap (`setenv`), then
/// overwrites each value's bytes in the block with NULs. Names stay readable, values not.
/// Returns how many values were overwritten; an entry `environ` still points at is left as
/// it is, since overwriting it would change what `getenv` returns.
///
/// # Safety
/// Only while this process has one thread.
unsafe fn scrub_initial_environment() -> usize {
    unsafe extern "C" {
        static mut environ: *const *const libc::c_char;
    }
    // The entries as the kernel laid them out: (start of the value, its length, name, value).
    let mut entries: Vec<(*mut u8, usize, OsString, OsString)> = Vec::new();
    // Safety: `environ` is a NULL-terminated array of C strings, unchanged since `exec`
    // (nothing in this process has set a variable yet).
    unsafe {
        let mut cursor = environ;
        while !cursor.is_null() && !(*cursor).is_null() {
            let entry = CStr::from_ptr(*cursor).to_bytes();
            if let Some(eq) = entry.iter().position(|&b| b == b'=')
                && eq > 0
            {
                let value_start = (*cursor).cast::<u8>().cast_mut().add(eq + 1);
                entries.push((
                    value_start,
                    entry.len() - eq - 1,
                    OsStr::from_bytes(&entry[..eq]).to_os_string(),
                    OsStr::from_bytes(&entry[eq + 1..]).to_os_string(),
                ));
            }
            cursor = cursor.add(1);
        }
    }
    for (_, _, name, value) in &entries {
        // Safety: one thread (the caller's contract). glibc's `setenv` stores a new heap copy
        // and points `environ` at it, leaving the old bytes unreferenced.
        unsafe { std::env::set_var(name, value) };
    }
    let kept = still_referenced();
    let mut scrubbed = 0;
    for (value_start, len, name, _) in &entries {
        // An entry `setenv` did not move (a second `NAME=` of the same name) is what `getenv`
        // may still return: left as it is.
        if kept.contains(&(*value_start as usize - name.len() - 1)) {
            continue;
        }
        // Safety: the bytes lie in the writable initial block, which nothing refers to now.
        unsafe { std::ptr::write_bytes(*value_start, 0, *len) };
        scrubbed += usize::from(*len > 0);
    }
    scrubbed
}

/// The addresses `environ` points at now, checked before the initial block is overwritten.
fn still_referenced() -> std::collections::HashSet<usize> {
    unsafe extern "C" {
        static mut environ: *const *const libc::c_char;
    }
    let mut referenced = std::collections::HashSet::new();
    // Safety: reading the NULL-terminated array that `setenv` maintains, on the one thread.
    unsafe {
        let mut cursor = environ;
        while !cursor.is_null() && !(*cursor).is_null() {
            referenced.insert(*cursor as usize);
            cursor = cursor.add(1);
        }
    }
    referenced
}

/// The `capget`/`capset` header and data (two 32-bit halves, version 3).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Drops `caps` from this thread's bounding, ambient and inheritable sets, leaving the
/// effective and permitted sets (what the detector itself uses) alone. True when none of them
/// is left in the bounding set.
fn drop_capabilities(caps: &[u32]) -> bool {
    // Safety: `prctl` and `capget`/`capset` on this process with buffers of the kernel's layout.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for &cap in caps {
            if libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) == 1 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            }
        }
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) == 0 {
            let mut changed = false;
            for &cap in caps {
                let (half, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
                if data[half].inheritable & bit != 0 {
                    data[half].inheritable &= !bit;
                    changed = true;
                }
            }
            if changed {
                libc::syscall(libc::SYS_capset, &mut header, data.as_ptr());
            }
        }
        caps.iter()
            .all(|&cap| libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
    }
}

/// Keeps `CAP_SYS_ADMIN` from every program this process starts from now on, but those
/// started by [`spawn_privileged`]: makes the thread that starts those, then drops the
/// capability from this thread's bounding and inheritable sets. Call it from `main` after
/// [`seal`] and any fork that must keep the thread, before other threads exist. True when
/// runs are now started without the capability (false when it was not held to begin with).
pub fn confine_runs() -> bool {
    // Safety: a plain `prctl` query on this thread.
    if unsafe { libc::prctl(libc::PR_CAPBSET_READ, SYS_ADMIN, 0, 0, 0) } != 1 {
        return false;
    }
    let (jobs, queue) = mpsc::channel::<Launch>();
    let started = std::thread::Builder::new()
        .name("privileged-spawn".to_string())
        .spawn(move || {
            for launch in queue {
                launch();
            }
        });
    if started.is_err() || PRIVILEGED.set(jobs).is_err() {
        return false;
    }
    drop_capabilities(&[SYS_ADMIN])
}

/// Starts `command` with the capabilities this process was started with (see
/// [`confine_runs`]): from the thread made before the drop when there is one, else here.
/// For programs that must enter namespaces (the pytest fork server), never for runs.
pub async fn spawn_privileged(
    mut command: tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    let Some(privileged) = PRIVILEGED.get() else {
        return command.spawn();
    };
    let runtime = tokio::runtime::Handle::current();
    let (reply, spawned) = tokio::sync::oneshot::channel();
    let launch: Launch = Box::new(move || {
        // The child is reaped by this runtime, as if it had been spawned on its threads.
        let _entered = runtime.enter();
        let _ = reply.send(command.spawn());
    });
    privileged
        .send(launch)
        .map_err(|_| io::Error::other("the privileged spawning thread has ended"))?;
    spawned
        .await
        .map_err(|_| io::Error::other("the privileged spawning thread dropped a spawn"))?
}

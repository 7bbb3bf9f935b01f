//! Namespaces of the overlay mechanism as descriptors, without reading another process's
//! `/proc/PID/ns`: the detector is not dumpable (`process::seal`), so neither are the processes
//! it forks, and a non-root detector may not open their `/proc` files. A forked helper opens its
//! own namespaces (always allowed) and sends the descriptors back over a socket
//! ([`send_fds`], [`recv_fds`]).
//!
//! Unprivileged overlays share one user namespace per process ([`user_namespace`]), made once:
//! writing a user namespace's `uid_map` needs its `/proc` files, which a non-dumpable process
//! may not open, so the helper that makes it is dumpable for the few microseconds between its
//! `fork` and the map writes. Once per process rather than once per run is what keeps that
//! window from recurring; the run holders then only `setns` into it.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};

/// How many descriptors one message carries at most (a user and a mount namespace).
const MAX_FDS: usize = 2;

/// A connected pair of datagram sockets, closed on `exec`: (parent's end, child's end).
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // Safety: `socketpair` fills the two-element array on success.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if made != 0 {
        return Err(io::Error::last_os_error());
    }
    // Safety: both descriptors were just made and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `fds` (at most [`MAX_FDS`]) as one message. System calls only, no allocation: called
/// in a forked child.
pub fn send_fds(socket: RawFd, fds: &[RawFd]) -> nix::Result<()> {
    let count = fds.len().min(MAX_FDS);
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    // Room for one control message of MAX_FDS descriptors, aligned for `cmsghdr`.
    let mut control = [0u64; 8];
    // Safety: every pointer refers to the locals above, which outlive the call; the control
    // buffer is larger than CMSG_SPACE(MAX_FDS * sizeof(int)).
    unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = libc::CMSG_SPACE((count * size_of::<RawFd>()) as u32) as _;
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN((count * size_of::<RawFd>()) as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast(), count);
        if libc::sendmsg(socket, &message, 0) < 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

/// Receives the descriptors of one message sent by [`send_fds`], in order.
pub fn recv_fds(socket: RawFd) -> io::Result<Vec<File>> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    let mut files = Vec::new();
    // Safety: as in `send_fds`; descriptors are taken from the control message the kernel
    // filled, each received once.
    unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = size_of_val(&control) as _;
        if libc::recvmsg(socket, &mut message, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..bytes / size_of::<RawFd>() {
                    files.push(File::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    if files.is_empty() {
        return Err(io::Error::other("a namespace helper sent no descriptor"));
    }
    Ok(files)
}

/// Opens `/proc/self/ns/<kind>` (`path` is that, NUL-terminated) in a forked child: system
/// calls only.
pub fn open_own(path: &std::ffi::CStr) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// The user namespace that maps this process's own uid and gid, in which unprivileged
/// overlays are mounted: made on first use and kept for the life of the process (the
/// descriptor keeps it alive). `Err` says why it could not be made.
pub fn user_namespace() -> Result<Arc<File>, String> {
    static MADE: OnceLock<Result<Arc<File>, String>> = OnceLock::new();
    MADE.get_or_init(|| {
        make_user_namespace()
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
    .clone()
}

/// Forks a helper that makes the user namespace, writes its maps, sends its descriptor and
/// exits. Blocking.
fn make_user_namespace() -> io::Result<File> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let uid_map = CString::new(format!("{uid} {uid} 1"))?;
    let gid_map = CString::new(format!("{gid} {gid} 1"))?;
    let (ours, theirs) = socket_pair()?;
    let theirs_fd = theirs.as_raw_fd();
    // Safety: the child only makes system calls on memory prepared before the fork, then
    // leaves with `_exit`.
    let helper = match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let code = match in_new_user_namespace(&uid_map, &gid_map, theirs_fd) {
                Ok(()) => 0,
                Err(errno) => errno as i32,
            };
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(theirs);
    match waitpid(helper, None) {
        Ok(WaitStatus::Exited(_, 0)) => {}
        Ok(WaitStatus::Exited(_, code)) => return Err(io::Error::from_raw_os_error(code)),
        other => {
            return Err(io::Error::other(format!(
                "the user namespace's helper ended as {other:?}"
            )));
        }
    }
    let mut files = recv_fds(ours.as_raw_fd())?;
    Ok(files.remove(0))
}

/// In the forked helper: a new user namespace mapping `uid_map` and `gid_map`, whose
/// descriptor goes to `socket`. Dumpable only until the maps are written (see the module doc).
fn in_new_user_namespace(uid_map: &CString, gid_map: &CString, socket: RawFd) -> nix::Result<()> {
    // Safety: `prctl` on this (forked, single-threaded) process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    let made = unshare(CloneFlags::CLONE_NEWUSER).and_then(|()| {
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", uid_map.as_bytes())?;
        write_file(c"/proc/self/gid_map", gid_map.as_bytes())
    });
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    made?;
    let user = open_own(c"/proc/self/ns/user")?;
    send_fds(socket, &[user.as_raw_fd()])
}

fn write_file(path: &std::ffi::CStr, content: &[u8]) -> nix::Result<()> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_WRONLY,
        nix::sys::stat::Mode::empty(),
    )?;
    nix::unistd::write(&fd, content)?;
    Ok(())
}

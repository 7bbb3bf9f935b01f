//! Reading a file the repository or its tests control ([`read_capped`]): the config file,
//! JUnit and Jest reports. Such a file may be a symlink to `/dev/zero`, a FIFO that never
//! ends, or simply huge, so it is opened without blocking, refused unless it is a regular
//! file, and read through `take(cap)`: memory per read is bounded by `cap`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest `.flaky-detector.yml` read.
pub const CONFIG_CAP: u64 = 1024 * 1024;
/// Largest test report read per run (JUnit XML, Jest JSON).
pub const REPORT_CAP: u64 = 32 * 1024 * 1024;

/// Why a capped read gave no text. The messages name no path: callers add it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it")]
    Io(#[source] std::io::Error),
    #[error("not a regular file")]
    NotRegular,
    #[error("larger than {cap} bytes")]
    TooLarge { cap: u64 },
    #[error("not UTF-8 text")]
    NotUtf8,
}

impl ReadError {
    /// True when there was no file at all (as opposed to one that cannot be used).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The whole text of `path` when it is a regular file (symlinks followed) of at most `cap`
/// bytes. Blocking; opening never waits on a FIFO because it is opened non-blocking and
/// refused before any read.
pub fn read_capped(path: &Path, cap: u64) -> Result<String, ReadError> {
    read_with(path, cap, nix::fcntl::OFlag::O_NONBLOCK)
}

/// [`read_capped`] for a file that must be a regular file itself: a symlink at `path` is
/// refused (`O_NOFOLLOW`, so it cannot be swapped in between a check and the open), for
/// files in a folder that others can write to, such as the pending history jobs.
pub fn read_capped_no_symlink(path: &Path, cap: u64) -> Result<String, ReadError> {
    match read_with(
        path,
        cap,
        nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOFOLLOW,
    ) {
        Err(ReadError::Io(e)) if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
            Err(ReadError::NotRegular)
        }
        other => other,
    }
}

fn read_with(path: &Path, cap: u64, flags: nix::fcntl::OFlag) -> Result<String, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_regular_file_and_follows_a_symlink_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a"), "hello").expect("write");
        std::os::unix::fs::symlink("a", dir.path().join("link")).expect("symlink");
        assert_eq!(
            read_capped(&dir.path().join("link"), 5).expect("read"),
            "hello"
        );
    }

    #[test]
    fn refuses_devices_fifos_directories_and_big_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        assert!(matches!(read_capped(&zero, 10), Err(ReadError::NotRegular)));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        assert!(matches!(read_capped(&fifo, 10), Err(ReadError::NotRegular)));
        assert!(matches!(
            read_capped(dir.path(), 10),
            Err(ReadError::NotRegular)
        ));
        std::fs::write(dir.path().join("big"), "x".repeat(11)).expect("write");
        let err = read_capped(&dir.path().join("big"), 10).expect_err("too big");
        assert_eq!(err.to_string(), "larger than 10 bytes");
        assert!(read_capped(&dir.path().join("none"), 10).is_err_and(|e| e.is_not_found()));
        std::fs::write(dir.path().join("a"), "hello").expect("write");
        std::os::unix::fs::symlink("a", dir.path().join("link")).expect("symlink");
        assert!(matches!(
            read_capped_no_symlink(&dir.path().join("link"), 10),
            Err(ReadError::NotRegular)
        ));
        assert_eq!(
            read_capped_no_symlink(&dir.path().join("a"), 10).expect("a regular file"),
            "hello"
        );
    }
}

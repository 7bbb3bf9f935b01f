//! Copies that cost as little as the filesystem allows. [`clone_file`] makes a copy-on-write
//! clone (the FICLONE ioctl, through `reflink-copy`) where the filesystem supports it (btrfs,
//! XFS, bcachefs), else an in-kernel byte copy, and keeps the mode and modification time.
//! [`copy_tree`] copies a user's local repository with it, so runs never write into their
//! tree; [`link_tree`] mirrors large read-mostly folders such as `node_modules` with hard
//! links. [`Reflinks`] remembers whether clones work, so an unsupported filesystem costs one
//! failed ioctl, not one per file.

use std::fs::{File, FileTimes, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::errno::Errno;

use super::linked::GitDir;

/// The initial state of [`Reflinks`] (its `Default`): no clone tried yet.
const _UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// Whether copy-on-write clones work between the directories at hand: unknown until the
/// first attempt, then fixed. Shared by every copy of a job (they all live on one filesystem).
#[derive(Debug, Default)]
pub struct Reflinks(AtomicU8);

impl Reflinks {
    /// Learns the answer now by cloning `sample` (a regular file) into `dir`, so that a caller
    /// choosing between a clone and a hard link knows before the first real copy.
    pub fn probe(sample: &Path, dir: &Path) -> Reflinks {
        let reflinks = Reflinks::default();
        let probe = dir.join(format!(".reflink-probe-{}", std::process::id()));
        if let (Ok(src), Ok(dst)) = (
            File::open(sample),
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&probe),
        ) {
            reflinks.try_clone(&src, &dst);
        }
        let _ = std::fs::remove_file(&probe);
        reflinks
    }

    /// `Some(true)` once a clone worked, `Some(false)` once the filesystem refused one.
    pub fn supported(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            SUPPORTED => Some(true),
            UNSUPPORTED => Some(false),
            _ => None,
        }
    }

    /// Clones `src` into the empty `dst`; false when it did not happen (the caller copies).
    fn try_clone(&self, src: &File, dst: &File) -> bool {
        if self.0.load(Ordering::Relaxed) == UNSUPPORTED {
            return false;
        }
        match reflink_copy::reflink_file(src, dst) {
            Ok(()) => {
                self.0.store(SUPPORTED, Ordering::Relaxed);
                true
            }
            Err(error) => {
                // These mean "not on this filesystem (pair)"; anything else (EIO, ENOSPC) is
                // left to the byte copy, which reports it if it persists.
                let refused = [
                    Errno::EOPNOTSUPP,
                    Errno::EXDEV,
                    Errno::EINVAL,
                    Errno::ENOTTY,
                    Errno::ENOSYS,
                    Errno::EPERM,
                ];
                if refused
                    .iter()
                    .any(|e| error.raw_os_error() == Some(*e as i32))
                {
                    self.0.store(UNSUPPORTED, Ordering::Relaxed);
                }
                false
            }
        }
    }
}

/// Copies the regular file `from`, whose metadata is `meta`, to the new path `to`: a
/// copy-on-write clone where `reflinks` allows, else a byte copy (`copy_file_range`, in the
/// kernel). Mode and modification time follow the source, as with `cp -p`, so tools that
/// compare mtimes (make, Python's bytecode cache) see the copy as the original.
pub fn clone_file(from: &Path, meta: &Metadata, to: &Path, reflinks: &Reflinks) -> io::Result<()> {
    let src = File::open(from)?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    if !reflinks.try_clone(&src, &dst) {
        copy_bytes(&src, &mut dst, meta.len())?;
    }
    dst.set_permissions(meta.permissions())?;
    dst.set_times(FileTimes::new().set_modified(meta.modified()?))?;
    Ok(())
}

/// Copies `len` bytes in the kernel. Knowing the length saves the probing that `io::copy`
/// does (two `fstat`s and a final empty call), which is most of the cost of a small file;
/// where `copy_file_range` is refused, `io::copy` carries on from the same offsets.
fn copy_bytes(src: &File, dst: &mut File, len: u64) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let chunk = usize::try_from(left.min(1 << 30)).expect("at most 1 GiB fits in usize");
        match nix::fcntl::copy_file_range(src, None, &*dst, None, chunk) {
            // The source is shorter than its metadata said; what is there was copied.
            Ok(0) => return Ok(()),
            Ok(n) => left -= n as u64,
            Err(Errno::EINTR) => {}
            Err(_) => return io::copy(&mut &*src, dst).map(|_| ()),
        }
    }
    Ok(())
}

/// A hard link from `to` to `from`, or a clone where linking is refused (another
/// filesystem, too many links, `fs.protected_hardlinks`).
pub fn link_or_clone(
    from: &Path,
    meta: &Metadata,
    to: &Path,
    reflinks: &Reflinks,
) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => clone_file(from, meta, to, reflinks),
    }
}

/// Copies `src` into `dst` (created), keeping symlinks as symlinks; files are cloned where
/// the filesystem allows, byte-copied otherwise.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let reflinks = Reflinks::default();
    walk(src, dst, &|_| false, &|from, meta, to| {
        clone_file(from, meta, to, &reflinks)
    })
}

/// Copies the local repository `src` into `dst` (created) as [`copy_tree`] does, except its
/// git object store (`.git/objects`), which is hard-linked as `git clone --local` does: git
/// never changes an object file in place (new objects are new files, repacks write new
/// packs), so the copy cannot write into the user's repository through a link, and a
/// repository's history, often most of its files, costs a link per file instead of a copy.
///
/// A `src` whose `.git` is a file or a symlink (a linked worktree, a submodule) gets a git
/// directory of its own in `dst` ([`super::linked::private_git_dir`]) rather than a copy of
/// the pointer, which would let the copy's git commands write into the user's repository.
pub fn copy_repo(src: &Path, dst: &Path) -> io::Result<()> {
    match super::linked::locate(src)? {
        GitDir::Absent | GitDir::Inside => {
            copy_linking_objects(src, dst, &src.join(".git").join("objects"), &|_| false)
        }
        GitDir::Elsewhere {
            git_dir,
            common_dir,
        } => {
            let reflinks = Reflinks::default();
            let pointer = src.join(".git");
            walk(src, dst, &|from| from == pointer, &|from, meta, to| {
                clone_file(from, meta, to, &reflinks)
            })?;
            super::linked::private_git_dir(&git_dir, &common_dir, &dst.join(".git"))
        }
    }
}

/// Copies `src` into `dst` as [`copy_tree`] does, leaving out the paths `skip` names, with
/// the files under `objects` (a git object store in `src`) hard-linked as [`copy_repo`] says.
pub(super) fn copy_linking_objects(
    src: &Path,
    dst: &Path,
    objects: &Path,
    skip: &dyn Fn(&Path) -> bool,
) -> io::Result<()> {
    let reflinks = Reflinks::default();
    walk(src, dst, skip, &|from, meta, to| {
        if from.starts_with(objects) {
            link_or_clone(from, meta, to, &reflinks)
        } else {
            clone_file(from, meta, to, &reflinks)
        }
    })
}

/// Mirrors `src` into `dst` with hard links, falling back to a copy per file where linking
/// is refused (another filesystem).
pub fn link_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let reflinks = Reflinks::default();
    walk(src, dst, &|_| false, &|from, meta, to| {
        link_or_clone(from, meta, to, &reflinks)
    })
}

type FileOp<'a> = &'a dyn Fn(&Path, &Metadata, &Path) -> io::Result<()>;

/// Copies the tree `src` into `dst`, leaving out the entries `skip` names.
fn walk(src: &Path, dst: &Path, skip: &dyn Fn(&Path) -> bool, file: FileOp<'_>) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        if skip(&from) {
            continue;
        }
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_dir() {
            walk(&from, &to, skip, file)?;
        } else if kind.is_file() {
            file(&from, &entry.metadata()?, &to)?;
        }
        // Sockets, FIFOs and devices are not part of a repository; skip them.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn copies_files_dirs_and_symlinks() {
        let src = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(src.path().join("sub")).expect("mkdir");
        std::fs::write(src.path().join("sub/a.txt"), "a").expect("write");
        std::os::unix::fs::symlink("sub/a.txt", src.path().join("link")).expect("symlink");
        let dst = tempfile::tempdir().expect("tempdir");
        for (copy, name) in [
            (copy_tree as fn(&Path, &Path) -> io::Result<()>, "c"),
            (link_tree, "l"),
        ] {
            let out = dst.path().join(name);
            copy(src.path(), &out).expect("copy");
            assert_eq!(
                std::fs::read_to_string(out.join("sub/a.txt")).expect("read"),
                "a"
            );
            assert_eq!(
                std::fs::read_link(out.join("link")).expect("link"),
                Path::new("sub/a.txt")
            );
        }
    }

    /// Issue 10: a local repository's object store is linked, its working tree copied.
    #[test]
    fn a_local_repository_links_its_objects_and_copies_its_files() {
        let src = tempfile::tempdir().expect("tempdir");
        let objects = src.path().join(".git/objects/ab");
        std::fs::create_dir_all(&objects).expect("mkdir");
        std::fs::write(objects.join("cdef"), "blob").expect("write object");
        std::fs::write(src.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("write");
        std::fs::write(src.path().join("a.py"), "x = 1\n").expect("write");
        let dst = tempfile::tempdir().expect("tempdir");
        let out = dst.path().join("checkout");
        copy_repo(src.path(), &out).expect("copy");
        let ino = |p: &Path| std::fs::metadata(p).expect("stat").ino();
        assert_eq!(
            ino(&out.join(".git/objects/ab/cdef")),
            ino(&objects.join("cdef"))
        );
        for name in [".git/HEAD", "a.py"] {
            assert_ne!(ino(&out.join(name)), ino(&src.path().join(name)), "{name}");
            assert_eq!(
                std::fs::read(out.join(name)).expect("read"),
                std::fs::read(src.path().join(name)).expect("read")
            );
        }
    }

    #[test]
    fn a_clone_keeps_mode_and_mtime_and_is_its_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let from = dir.path().join("tool.sh");
        std::fs::write(&from, "#!/bin/sh\necho hi\n").expect("write");
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o751)).expect("chmod");
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        File::options()
            .write(true)
            .open(&from)
            .and_then(|f| f.set_modified(old))
            .expect("set mtime");
        let meta = std::fs::metadata(&from).expect("stat");
        let to = dir.path().join("copy.sh");
        let reflinks = Reflinks::probe(&from, dir.path());
        clone_file(&from, &meta, &to, &reflinks).expect("clone");
        let copied = std::fs::metadata(&to).expect("stat copy");
        assert_eq!(copied.permissions().mode() & 0o7777, 0o751);
        assert_eq!(copied.modified().expect("mtime"), old);
        assert_ne!(copied.ino(), meta.ino());
        // Writing the copy leaves the original alone, clone or not.
        std::fs::write(&to, "changed").expect("write copy");
        assert_eq!(
            std::fs::read_to_string(&from).expect("read"),
            "#!/bin/sh\necho hi\n"
        );
        assert!(reflinks.supported().is_some(), "the probe decided");
    }
}

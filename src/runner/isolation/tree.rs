//! A snapshot of the prepared checkout ([`Manifest`]) and the copies made from it for runs
//! ([`Manifest::materialize`]); [`super::reset`] brings a slot's copy back to it.
//!
//! Most entries are cloned (copy-on-write where the filesystem can, else copied). Files in
//! dependency folders are hard-linked, and a cargo `target/` directory is shared through one
//! symlink; [`Share`] says which and why.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::workspace::copy::{Reflinks, clone_file, link_or_clone};

/// How an entry of the prepared checkout reaches a run's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// A file of the run's own (clone or copy): whatever the run does to it stays in the run.
    Own,
    /// Inside a dependency folder (`node_modules`, a virtualenv) or `.git/objects`: files are
    /// hard-linked, on every filesystem, since a link costs one call where even a clone costs
    /// seven, and tens of thousands of files are common here; and so that a suite behaves the
    /// same on every machine. Directories are still the run's own, so files a run adds or
    /// replaces (atomic writes, caches such as `node_modules/.cache`) stay private; only an
    /// in-place rewrite of an existing file would be seen by other runs. Git objects are never
    /// rewritten; `node_modules` in the prepared checkout is itself hard-linked from the
    /// install cache, so it never had that protection.
    Link,
    /// A cargo `target/` directory (tagged with `CACHEDIR.TAG`): one symlink to the prepared
    /// one. Cargo locks a target directory while it builds, so runs sharing it wait for each
    /// other instead of corrupting it, and gigabytes of build output are not copied per run.
    Symlink,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Path relative to the checkout root.
    pub(super) rel: PathBuf,
    pub(super) kind: Kind,
    pub(super) share: Share,
    pub(super) meta: Metadata,
}

/// Every entry of the prepared checkout, parents before children, taken once per job: the
/// runs never write into the prepared checkout, so it stays true for the whole job.
#[derive(Debug)]
pub struct Manifest {
    pub(super) root: PathBuf,
    pub(super) entries: Vec<Entry>,
    pub(super) index: HashMap<PathBuf, usize>,
}

impl Manifest {
    /// Walks `root` (blocking).
    pub fn scan(root: &Path) -> io::Result<Manifest> {
        let mut entries = Vec::new();
        scan_dir(root, Path::new(""), Share::Own, &mut entries)?;
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.rel.clone(), i))
            .collect();
        Ok(Manifest {
            root: root.to_path_buf(),
            entries,
            index,
        })
    }

    /// A regular file to probe copy-on-write support with, if the checkout has one.
    pub fn sample_file(&self) -> Option<PathBuf> {
        self.entries
            .iter()
            .find(|e| matches!(e.kind, Kind::File))
            .map(|e| self.root.join(&e.rel))
    }

    /// Bytes of the regular files a copy gets of its own (neither linked nor shared).
    pub fn own_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.share == Share::Own && matches!(e.kind, Kind::File))
            .map(|e| e.meta.len())
            .sum()
    }

    /// How many entries of each kind of sharing, for logs and the benchmark.
    pub fn count(&self, share: Share) -> usize {
        self.entries.iter().filter(|e| e.share == share).count()
    }

    /// Makes a full copy at `dst` (created; its parent must exist). Blocking.
    pub fn materialize(&self, dst: &Path, reflinks: &Reflinks) -> io::Result<()> {
        std::fs::create_dir(dst).map_err(|e| at(dst, e))?;
        for entry in &self.entries {
            self.create(entry, &dst.join(&entry.rel), reflinks)?;
        }
        self.fix_dir_modes(dst, self.entries.iter())
    }

    pub(super) fn create(&self, entry: &Entry, to: &Path, reflinks: &Reflinks) -> io::Result<()> {
        let from = self.root.join(&entry.rel);
        let made = match (&entry.kind, entry.share) {
            (_, Share::Symlink) => std::os::unix::fs::symlink(&from, to),
            (Kind::Dir, _) => std::fs::create_dir(to),
            (Kind::Symlink(target), _) => std::os::unix::fs::symlink(target, to),
            (Kind::File, Share::Link) => link_or_clone(&from, &entry.meta, to, reflinks),
            (Kind::File, _) => clone_file(&from, &entry.meta, to, reflinks),
        };
        made.map_err(|e| at(&entry.rel, e))
    }

    /// Directories are made writable by default so they can be filled; those that were not
    /// writable in the prepared checkout get their mode back afterwards, children first.
    pub(super) fn fix_dir_modes<'a>(
        &self,
        dst: &Path,
        entries: impl DoubleEndedIterator<Item = &'a Entry>,
    ) -> io::Result<()> {
        for entry in entries.rev() {
            if matches!(entry.kind, Kind::Dir) && entry.share != Share::Symlink {
                let mode = entry.meta.permissions().mode() & 0o7777;
                if mode & 0o700 != 0o700 || mode & 0o7000 != 0 {
                    std::fs::set_permissions(
                        dst.join(&entry.rel),
                        std::fs::Permissions::from_mode(mode),
                    )
                    .map_err(|e| at(&entry.rel, e))?;
                }
            }
        }
        Ok(())
    }
}

fn scan_dir(dir: &Path, rel: &Path, inherited: Share, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| at(dir, e))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| at(dir, e))?;
    // A stable order makes copies and their errors reproducible.
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| at(&path, e))?;
        let kind = if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File
        } else if meta.is_symlink() {
            Kind::Symlink(std::fs::read_link(&path).map_err(|e| at(&path, e))?)
        } else {
            // Sockets, FIFOs and devices are not part of a checkout.
            continue;
        };
        let share = match kind {
            Kind::Dir if inherited == Share::Own => dir_share(&path, &rel, &name),
            _ => inherited,
        };
        let descend = matches!(kind, Kind::Dir) && share != Share::Symlink;
        out.push(Entry {
            rel: rel.clone(),
            kind,
            share,
            meta,
        });
        if descend {
            scan_dir(&path, &rel, share, out)?;
        }
    }
    Ok(())
}

/// The sharing of a directory that is not inside a shared folder already.
fn dir_share(path: &Path, rel: &Path, name: &OsStr) -> Share {
    let dependencies = name == "node_modules" || path.join("pyvenv.cfg").is_file();
    if dependencies || rel == Path::new(".git/objects") {
        Share::Link
    } else if name == "target" && path.join("CACHEDIR.TAG").is_file() {
        Share::Symlink
    } else {
        Share::Own
    }
}

/// Removes a file, symlink or directory tree (symlinks are never followed); absent is fine.
pub fn remove_any(path: &Path) -> io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(|e| at(path, e))
}

/// The same error with the path it concerns in front, since a bare "permission denied" from
/// deep inside a tree walk names nothing.
pub(super) fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// A prepared checkout with own files, a dependency folder, git objects, a cargo target
    /// directory and a symlink.
    pub(in crate::runner::isolation) fn prepared() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for (path, text) in [
            ("src/app.py", "print('app')\n"),
            ("tracked.txt", "original\n"),
            ("node_modules/pkg/index.js", "module.exports = 1;\n"),
            (".git/objects/ab/cdef", "blob"),
            (".git/HEAD", "ref: refs/heads/main\n"),
            (
                "target/CACHEDIR.TAG",
                "Signature: 8a477f597d28d172789f06886806bc55\n",
            ),
            ("target/debug/app", "binary"),
        ] {
            std::fs::create_dir_all(root.join(path).parent().expect("parent")).expect("mkdir");
            std::fs::write(root.join(path), text).expect("write");
        }
        std::os::unix::fs::symlink("src/app.py", root.join("main.py")).expect("symlink");
        // As in a clone made a while before the runs: a rewrite gets a different mtime.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        std::fs::File::options()
            .write(true)
            .open(root.join("tracked.txt"))
            .and_then(|f| f.set_modified(old))
            .expect("set mtime");
        dir
    }

    /// Every file and symlink under `root` with its content or target, directories as "/".
    pub(in crate::runner::isolation) fn contents(root: &Path) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                let rel = path.strip_prefix(root).expect("under root").to_path_buf();
                let meta = std::fs::symlink_metadata(&path).expect("lstat");
                if meta.is_symlink() {
                    let target = std::fs::read_link(&path).expect("readlink");
                    out.insert(rel, format!("-> {}", target.display()));
                } else if meta.is_dir() {
                    out.insert(rel, "/".into());
                    stack.push(path);
                } else {
                    out.insert(rel, std::fs::read_to_string(&path).expect("read"));
                }
            }
        }
        out
    }

    #[test]
    fn a_copy_is_private_except_what_is_safe_to_share() {
        let src = prepared();
        let manifest = Manifest::scan(src.path()).expect("scan");
        let runs = tempfile::tempdir().expect("tempdir");
        let reflinks = Reflinks::probe(&manifest.sample_file().expect("a file"), runs.path());
        let copy = runs.path().join("run-0");
        manifest.materialize(&copy, &reflinks).expect("copy");

        let ino = |p: &Path| std::fs::metadata(p).expect("stat").ino();
        let own = Path::new("tracked.txt");
        assert_ne!(ino(&copy.join(own)), ino(&src.path().join(own)));
        for linked in ["node_modules/pkg/index.js", ".git/objects/ab/cdef"] {
            // Dependency files and git objects are hard links, clones or not.
            assert_eq!(
                ino(&copy.join(linked)),
                ino(&src.path().join(linked)),
                "{linked}"
            );
        }
        assert_eq!(
            std::fs::read_link(copy.join("target")).expect("target is a symlink"),
            src.path().join("target")
        );
        assert_eq!(
            std::fs::read_link(copy.join("main.py")).expect("symlink"),
            Path::new("src/app.py")
        );

        // What a run writes stays in the run: in place into its own file, a new file in a
        // dependency folder, an atomic replacement of a dependency file.
        std::fs::write(copy.join(own), "changed\n").expect("write");
        std::fs::create_dir(copy.join("node_modules/.cache")).expect("mkdir");
        std::fs::write(copy.join("node_modules/.cache/x"), "cache").expect("write");
        std::fs::write(copy.join("node_modules/pkg/tmp"), "new").expect("write");
        std::fs::rename(
            copy.join("node_modules/pkg/tmp"),
            copy.join("node_modules/pkg/index.js"),
        )
        .expect("rename");
        let untouched = contents(src.path());
        assert_eq!(untouched[own], "original\n");
        assert_eq!(
            untouched[Path::new("node_modules/pkg/index.js")],
            "module.exports = 1;\n"
        );
        assert!(!src.path().join("node_modules/.cache").exists());
    }

    #[test]
    fn a_read_only_directory_is_copied_with_its_mode() {
        let src = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(src.path().join("ro")).expect("mkdir");
        std::fs::write(src.path().join("ro/f"), "f").expect("write");
        std::fs::set_permissions(
            src.path().join("ro"),
            std::fs::Permissions::from_mode(0o555),
        )
        .expect("chmod");
        let manifest = Manifest::scan(src.path()).expect("scan");
        let runs = tempfile::tempdir().expect("tempdir");
        let copy = runs.path().join("c");
        manifest
            .materialize(&copy, &Reflinks::default())
            .expect("copy");
        let mode = std::fs::metadata(copy.join("ro")).expect("stat").mode() & 0o777;
        assert_eq!(mode, 0o555);
        assert_eq!(
            std::fs::read_to_string(copy.join("ro/f")).expect("read"),
            "f"
        );
        for dir in [src.path().join("ro"), copy.join("ro")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
}

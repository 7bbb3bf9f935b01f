//! A slot's copy of the checkout ([`SlotCopy`]), brought back to the prepared state between
//! runs ([`SlotCopy::reset`]) by redoing only what a run changed.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::tree::{Kind, Manifest, Share, at, remove_any};
use crate::workspace::copy::Reflinks;

/// What an entry of a slot's copy looked like right after it was made, to tell afterwards
/// whether a run touched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mode: u32,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            mode: meta.mode(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

impl Manifest {
    /// True when entry `i`, found at `path` with `meta`, is as it was made (`made`):
    /// - a file of the run's own: the whole stamp. A write, chmod or rename changes its ctime,
    ///   which a process cannot set back; a new file also has a new mtime, since copies keep
    ///   the prepared file's older one.
    /// - a hard-linked file: inode and mode. A replacement cannot reuse the inode (the
    ///   prepared checkout holds it), and its ctime moves whenever another copy links it.
    /// - a symlink, including a shared directory: its target. A symlink cannot change in
    ///   place, and a new one may well get the old one's inode number.
    /// - a directory: its mode; its entries are checked one by one.
    fn unchanged(&self, i: usize, made: &Stamp, path: &Path, meta: &Metadata) -> bool {
        let entry = &self.entries[i];
        let now = Stamp::of(meta);
        match &entry.kind {
            _ if entry.share == Share::Symlink => {
                meta.is_symlink()
                    && std::fs::read_link(path).is_ok_and(|t| t == self.root.join(&entry.rel))
            }
            Kind::Symlink(target) => {
                meta.is_symlink() && std::fs::read_link(path).is_ok_and(|t| t == *target)
            }
            Kind::Dir => meta.is_dir() && made.mode == now.mode,
            Kind::File if made.ino == entry.meta.ino() => {
                meta.is_file() && made.ino == now.ino && made.mode == now.mode
            }
            Kind::File => meta.is_file() && *made == now,
        }
    }
}

/// A slot's copy of the checkout and the stamps of its entries.
#[derive(Debug)]
pub struct SlotCopy {
    root: PathBuf,
    stamps: Vec<Stamp>,
    /// The root folder's own mode and mtime as made: a run's `chmod .` or `touch .` is undone
    /// by the reset, since the root is no entry of the manifest.
    root_made: (u32, std::time::SystemTime),
}

/// What a reset had to redo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetReport {
    pub removed: usize,
    pub restored: usize,
}

impl SlotCopy {
    /// Makes a full copy at `root` (removing whatever is there) and records its stamps.
    pub fn create(manifest: &Manifest, root: &Path, reflinks: &Reflinks) -> io::Result<SlotCopy> {
        remove_any(root)?;
        manifest.materialize(root, reflinks)?;
        let stamps = manifest
            .entries
            .iter()
            .map(|e| stamp_at(&root.join(&e.rel)))
            .collect::<io::Result<_>>()?;
        let meta = std::fs::metadata(root).map_err(|e| at(root, e))?;
        Ok(SlotCopy {
            root: root.to_path_buf(),
            stamps,
            root_made: (meta.mode(), meta.modified().map_err(|e| at(root, e))?),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Brings the copy back to the prepared state: removes what a run added, and re-creates
    /// what it changed or removed. Costs one `lstat` per entry plus the redone entries, which
    /// is far less than a full copy. On an error the caller makes a fresh copy instead.
    ///
    /// Caveat: a same-size rewrite that keeps the mtime within the filesystem's timestamp
    /// granularity of the copy (a few milliseconds) cannot be told from no change.
    pub fn reset(&mut self, manifest: &Manifest, reflinks: &Reflinks) -> io::Result<ResetReport> {
        let mut present = vec![false; manifest.entries.len()];
        let mut report = ResetReport::default();
        self.sweep(
            manifest,
            &self.root.clone(),
            Path::new(""),
            &mut present,
            &mut report,
        )?;
        let mut restored = Vec::new();
        for (i, entry) in manifest.entries.iter().enumerate() {
            if !present[i] {
                let path = self.root.join(&entry.rel);
                manifest.create(entry, &path, reflinks)?;
                self.stamps[i] = stamp_at(&path)?;
                restored.push(entry);
                report.restored += 1;
            }
        }
        manifest.fix_dir_modes(&self.root, restored.into_iter())?;
        self.reset_root()?;
        Ok(report)
    }

    /// Gives the root folder back its mode and mtime as made, where a run (or the reset's own
    /// removals) changed them.
    fn reset_root(&self) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let root = &self.root;
        let (mode, mtime) = self.root_made;
        let meta = std::fs::metadata(root).map_err(|e| at(root, e))?;
        if meta.mode() != mode {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| at(root, e))?;
        }
        if meta.modified().ok() != Some(mtime) {
            let dir = std::fs::File::open(root).map_err(|e| at(root, e))?;
            dir.set_times(std::fs::FileTimes::new().set_modified(mtime))
                .map_err(|e| at(root, e))?;
        }
        Ok(())
    }

    /// Walks the copy: entries the manifest does not know, or whose stamp changed, are
    /// removed; unchanged directories are walked in turn.
    fn sweep(
        &self,
        manifest: &Manifest,
        dir: &Path,
        rel: &Path,
        present: &mut [bool],
        report: &mut ResetReport,
    ) -> io::Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| at(dir, e))? {
            let entry = entry.map_err(|e| at(dir, e))?;
            let path = entry.path();
            let rel = rel.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&path).map_err(|e| at(&path, e))?;
            let keep = manifest
                .index
                .get(&rel)
                .is_some_and(|&i| manifest.unchanged(i, &self.stamps[i], &path, &meta));
            if !keep {
                remove_any(&path)?;
                report.removed += 1;
                continue;
            }
            let i = manifest.index[&rel];
            present[i] = true;
            if meta.is_dir() {
                self.sweep(manifest, &path, &rel, present, report)?;
            }
        }
        Ok(())
    }
}

fn stamp_at(path: &Path) -> io::Result<Stamp> {
    std::fs::symlink_metadata(path)
        .map(|m| Stamp::of(&m))
        .map_err(|e| at(path, e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::runner::isolation::tree::tests::{contents, prepared};

    #[test]
    fn a_reset_undoes_what_a_run_did_and_only_that() {
        let src = prepared();
        let manifest = Manifest::scan(src.path()).expect("scan");
        let runs = tempfile::tempdir().expect("tempdir");
        let reflinks = Reflinks::default();
        let root = runs.path().join("slot-0");
        let mut slot = SlotCopy::create(&manifest, &root, &reflinks).expect("copy");
        let pristine = contents(&root);
        let without_target = |tree: BTreeMap<PathBuf, String>| {
            tree.into_iter()
                .filter(|(k, _)| !k.starts_with("target"))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            without_target(pristine.clone()),
            without_target(contents(src.path()))
        );

        let untouched = slot.reset(&manifest, &reflinks).expect("reset");
        assert_eq!(untouched, ResetReport::default(), "nothing to redo");

        // A run: same-size rewrite in place, a new file and folder, a deletion, a chmod, a
        // dependency file replaced, a symlink retargeted.
        std::fs::write(root.join("tracked.txt"), "ORIGINAL\n").expect("write");
        std::fs::create_dir_all(root.join("newdir/deep")).expect("mkdir");
        std::fs::write(root.join("newdir/deep/f"), "x").expect("write");
        std::fs::write(root.join("added.txt"), "x").expect("write");
        std::fs::remove_file(root.join("src/app.py")).expect("rm");
        std::fs::set_permissions(
            root.join(".git/HEAD"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        std::fs::write(root.join("node_modules/pkg/new"), "y").expect("write");
        std::fs::rename(
            root.join("node_modules/pkg/new"),
            root.join("node_modules/pkg/index.js"),
        )
        .expect("rename");
        std::fs::remove_file(root.join("main.py")).expect("rm link");
        std::os::unix::fs::symlink("tracked.txt", root.join("main.py")).expect("relink");

        let report = slot.reset(&manifest, &reflinks).expect("reset");
        assert_eq!(contents(&root), pristine);
        assert_eq!(report.removed, 6, "{report:?}");
        assert_eq!(report.restored, 5, "{report:?}");
        let mode = std::fs::metadata(root.join(".git/HEAD"))
            .expect("stat")
            .mode();
        let prepared_mode = std::fs::metadata(src.path().join(".git/HEAD"))
            .expect("stat")
            .mode();
        assert_eq!(mode, prepared_mode);
        assert_eq!(contents(src.path())[Path::new("tracked.txt")], "original\n");
    }
}

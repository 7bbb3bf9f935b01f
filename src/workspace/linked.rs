//! A local directory whose git metadata lives elsewhere ([`GitDir::Elsewhere`]): a linked
//! worktree (`git worktree add`) or a submodule, whose `.git` is a file naming the real git
//! directory (`gitdir: …`), or a `.git` symlink. Copying such a directory copies only that
//! pointer, so a run's `git commit` or `git tag` would move the branch, add tags and objects
//! and change the index of the user's main repository, and the next run would see the
//! previous one's staged change (issue 21, finding 2). [`private_git_dir`] gives the copy a
//! git directory of its own instead, at the same HEAD, with the same index.

use std::io;
use std::path::{Path, PathBuf};

use super::read::read_capped;

/// Largest `.git` file read: one line naming a directory.
const GIT_FILE_CAP: u64 = 64 * 1024;

/// Where a working tree's git metadata is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitDir {
    /// No `.git` at all: a plain directory.
    Absent,
    /// `.git` is a directory inside the tree: copying the tree copies it.
    Inside,
    /// `.git` is a file or a symlink naming a git directory outside the tree.
    Elsewhere {
        /// The per-worktree directory: HEAD and index (for a submodule, the whole thing).
        git_dir: PathBuf,
        /// The directory holding objects, refs and config (`commondir`), shared with the
        /// main worktree; the same as `git_dir` for a submodule.
        common_dir: PathBuf,
    },
}

/// Why a `.git` file could not be followed. The messages name the file.
fn invalid(git: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", git.display()),
    )
}

/// Finds where `tree`'s git metadata lives, reading a `.git` file the way git does (`gitdir:`
/// relative to the tree, then `commondir` relative to that). Never writes.
pub fn locate(tree: &Path) -> io::Result<GitDir> {
    let git = tree.join(".git");
    let meta = match std::fs::symlink_metadata(&git) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(GitDir::Absent),
        Err(e) => return Err(e),
    };
    let git_dir = if meta.is_dir() {
        return Ok(GitDir::Inside);
    } else if meta.file_type().is_symlink() {
        std::fs::canonicalize(&git)?
    } else if meta.is_file() {
        let text = read_capped(&git, GIT_FILE_CAP)
            .map_err(|e| invalid(&git, &format!("cannot be read: {e}")))?;
        let named = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("gitdir:"))
            .map(str::trim)
            .filter(|named| !named.is_empty())
            .ok_or_else(|| invalid(&git, "names no git directory (no `gitdir:` line)"))?;
        std::fs::canonicalize(tree.join(named))
            .map_err(|e| invalid(&git, &format!("names {named}, which cannot be opened: {e}")))?
    } else {
        return Err(invalid(
            &git,
            "is neither a directory, a file nor a symlink",
        ));
    };
    if !git_dir.is_dir() {
        return Err(invalid(&git, "does not lead to a git directory"));
    }
    let common_dir = match read_capped(&git_dir.join("commondir"), GIT_FILE_CAP) {
        Ok(text) => std::fs::canonicalize(git_dir.join(text.trim()))
            .map_err(|e| invalid(&git, &format!("its commondir cannot be opened: {e}")))?,
        Err(e) if e.is_not_found() => git_dir.clone(),
        Err(e) => return Err(invalid(&git, &format!("its commondir cannot be read: {e}"))),
    };
    // As git does, only a directory with a HEAD and an object store is a git directory: a
    // pointer to `/` or to a home directory must not make the copy take all of it.
    if !git_dir.join("HEAD").is_file() || !common_dir.join("objects").is_dir() {
        return Err(invalid(
            &git,
            "does not lead to a git directory (no HEAD or objects)",
        ));
    }
    Ok(GitDir::Elsewhere {
        git_dir,
        common_dir,
    })
}

/// True when `tree`'s `.git` is anything but a directory inside it (or absent): such a tree
/// must be copied with [`private_git_dir`], never used in place.
pub fn is_elsewhere(tree: &Path) -> bool {
    !matches!(locate(tree), Ok(GitDir::Absent | GitDir::Inside))
}

/// Makes `dest` (which must not exist) a standalone git directory at the state of the
/// worktree whose metadata is `git_dir` and `common_dir`: the common directory's refs,
/// config and objects (objects hard-linked, as [`super::copy::copy_repo`] does), without the
/// list of the main repository's other worktrees, then this worktree's own HEAD and index.
/// The config loses `core.worktree` (a submodule's points back at the user's tree) and says
/// the repository is not bare (a worktree of a bare repository).
pub fn private_git_dir(git_dir: &Path, common_dir: &Path, dest: &Path) -> io::Result<()> {
    let worktrees = common_dir.join("worktrees");
    super::copy::copy_linking_objects(common_dir, dest, &common_dir.join("objects"), &|from| {
        from == worktrees
    })?;
    if git_dir != common_dir {
        for name in ["HEAD", "index"] {
            let target = dest.join(name);
            match std::fs::remove_file(&target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let from = git_dir.join(name);
            if from.is_file() {
                std::fs::copy(&from, &target)?;
            }
        }
    }
    let config = dest.join("config");
    if config.is_file() {
        let mut config = git2::Config::open(&config).map_err(io::Error::other)?;
        match config.remove("core.worktree") {
            Ok(()) => {}
            Err(e) if e.code() == git2::ErrorCode::NotFound => {}
            Err(e) => return Err(io::Error::other(e)),
        }
        config
            .set_bool("core.bare", false)
            .map_err(io::Error::other)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gitdir_file_is_followed_relative_to_the_tree_and_commondir_to_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let common = root.path().join("main/.git");
        let wt_git = common.join("worktrees/wt");
        std::fs::create_dir_all(&wt_git).expect("mkdir");
        std::fs::create_dir_all(common.join("objects")).expect("mkdir");
        std::fs::write(wt_git.join("HEAD"), "ref: refs/heads/wt\n").expect("HEAD");
        std::fs::write(wt_git.join("commondir"), "../..\n").expect("commondir");
        let tree = root.path().join("wt");
        std::fs::create_dir_all(&tree).expect("mkdir");
        std::fs::write(tree.join(".git"), "gitdir: ../main/.git/worktrees/wt\n").expect("file");
        let canon = |p: &Path| std::fs::canonicalize(p).expect("canonical");
        assert_eq!(
            locate(&tree).expect("located"),
            GitDir::Elsewhere {
                git_dir: canon(&wt_git),
                common_dir: canon(&common),
            }
        );
        assert!(is_elsewhere(&tree));
        assert_eq!(
            locate(&root.path().join("main")).expect("dir"),
            GitDir::Inside
        );
        assert_eq!(locate(root.path()).expect("none"), GitDir::Absent);
    }

    #[test]
    fn a_git_file_that_names_nothing_is_an_error_naming_the_file() {
        let tree = tempfile::tempdir().expect("tempdir");
        std::fs::write(tree.path().join(".git"), "not a pointer\n").expect("file");
        let error = locate(tree.path()).expect_err("no gitdir line");
        assert!(error.to_string().contains("no `gitdir:` line"), "{error}");
        std::fs::write(tree.path().join(".git"), "gitdir: missing\n").expect("file");
        let error = locate(tree.path()).expect_err("missing target");
        assert!(error.to_string().contains("names missing"), "{error}");
        std::fs::write(tree.path().join(".git"), "gitdir: /\n").expect("file");
        let error = locate(tree.path()).expect_err("not a git directory");
        assert!(
            error
                .to_string()
                .contains("does not lead to a git directory"),
            "{error}"
        );
        // A FIFO as `.git` is refused without blocking.
        std::fs::remove_file(tree.path().join(".git")).expect("rm");
        nix::unistd::mkfifo(&tree.path().join(".git"), nix::sys::stat::Mode::S_IRWXU)
            .expect("mkfifo");
        assert!(locate(tree.path()).is_err());
        assert!(
            is_elsewhere(tree.path()),
            "an unreadable .git is never borrowed"
        );
    }
}

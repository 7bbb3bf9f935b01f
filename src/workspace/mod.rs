//! The job's scratch directory ([`Workspace`]): the checkout (fetched with git2 or copied
//! from a local path) plus room for per-run directories. Removed when dropped unless kept.

pub mod copy;
pub mod credential;
pub mod fetch;
pub mod linked;
pub mod read;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::job::{RepoSource, is_hex_sha};
pub use credential::GitToken;
pub use fetch::MergeBase;

/// Why a workspace could not be prepared. Every variant names what the user gave us; none
/// carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot create a scratch directory in {}", path.display())]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a repository in {}", path.display())]
    Init {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot clone {url} at {git_ref}: {detail}")]
    Clone {
        url: String,
        git_ref: String,
        detail: String,
    },
    #[error("ref `{git_ref}` not found in the repository: {detail}")]
    RefNotFound { git_ref: String, detail: String },
    #[error("cloning {url} took longer than the clone timeout")]
    Timeout { url: String },
    #[error("cannot check out the fetched commit")]
    Checkout {
        #[source]
        source: git2::Error,
    },
    #[error("cannot copy local repository {}", path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WorkspaceError {
    /// True when the user's input is at fault (a 4xx), false for our own or the network's.
    pub fn is_input_error(&self) -> bool {
        matches!(self, WorkspaceError::RefNotFound { .. })
    }
}

/// How to fetch: credentials and limits that come from the operator, not the job.
#[derive(Clone)]
pub struct FetchSettings {
    /// Offered only to the hosts it belongs to.
    pub token: Option<GitToken>,
    pub timeout: Duration,
}

/// A job's scratch directory and the checkout inside it.
#[derive(Debug)]
pub struct Workspace {
    scratch: TempDir,
    checkout: PathBuf,
    /// The commit that was checked out, when the source is a git repository.
    pub commit: Option<String>,
    /// Set while `checkout` is the user's own local directory, used in place rather than
    /// copied ([`Workspace::borrow`]); cleared by [`Workspace::copy_in`].
    borrowed: bool,
}

impl Workspace {
    /// Fetches or copies `repo` into a new scratch directory under `parent`.
    pub async fn prepare(
        repo: &RepoSource,
        git_ref: Option<&str>,
        parent: &Path,
        settings: &FetchSettings,
    ) -> Result<Workspace, WorkspaceError> {
        let scratch = scratch_in(parent)?;
        let checkout = scratch.path().join("checkout");
        let deadline = Instant::now() + settings.timeout;
        let shown = repo.display();
        let work = {
            let (repo, settings, dest) = (repo.clone(), settings.clone(), checkout.clone());
            let git_ref = git_ref.map(str::to_owned);
            tokio::task::spawn_blocking(move || {
                fill(&repo, git_ref.as_deref(), &dest, &settings, deadline)
            })
        };
        // The deadline inside the transfer callbacks stops libgit2 itself; this outer bound
        // covers a connect that never makes progress. The blocking thread then ends on its own.
        let commit =
            match tokio::time::timeout(settings.timeout + Duration::from_secs(2), work).await {
                Ok(Ok(result)) => result?,
                Ok(Err(join)) => std::panic::resume_unwind(join.into_panic()),
                Err(_) => return Err(WorkspaceError::Timeout { url: shown }),
            };
        Ok(Workspace {
            scratch,
            checkout,
            commit,
            borrowed: false,
        })
    }

    /// A scratch directory under `parent` with the local directory `path` as the checkout,
    /// not copied: for a job whose runs only ever see it through an overlay, where copying
    /// it (and removing the copy) was most of what the job cost besides its runs. Nothing
    /// here writes to `path`, and dropping the workspace removes the scratch directory only.
    /// The caller must [`Workspace::copy_in`] before anything may write to the checkout.
    ///
    /// A directory whose `.git` is a file or a symlink (a linked worktree, a submodule) is
    /// copied at once instead: its git metadata lies outside the directory, where an overlay
    /// over the directory would not catch a run's `git commit`.
    pub async fn borrow(path: &Path, parent: &Path) -> Result<Workspace, WorkspaceError> {
        let scratch = scratch_in(parent)?;
        let source = path.to_path_buf();
        let found = tokio::task::spawn_blocking(move || {
            let checkout =
                std::fs::canonicalize(&source).map_err(|source_error| WorkspaceError::Copy {
                    path: source.clone(),
                    source: source_error,
                })?;
            let commit = head_commit(&checkout);
            Ok::<_, WorkspaceError>((checkout, commit))
        });
        let (checkout, commit) = match found.await {
            Ok(result) => result?,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        let mut workspace = Workspace {
            scratch,
            checkout,
            commit,
            borrowed: true,
        };
        if linked::is_elsewhere(&workspace.checkout) {
            workspace.copy_in().await?;
        }
        Ok(workspace)
    }

    /// True while the checkout is the user's own directory ([`Workspace::borrow`]).
    pub fn is_borrowed(&self) -> bool {
        self.borrowed
    }

    /// Copies a borrowed checkout into the scratch directory, as [`Workspace::prepare`] does
    /// for a local path, and uses the copy from now on. A no-op when not borrowed.
    pub async fn copy_in(&mut self) -> Result<(), WorkspaceError> {
        if !self.borrowed {
            return Ok(());
        }
        let (from, to) = (self.checkout.clone(), self.scratch.path().join("checkout"));
        let dest = to.clone();
        let copied = tokio::task::spawn_blocking(move || {
            copy::copy_repo(&from, &dest)
                .map_err(|source| WorkspaceError::Copy { path: from, source })
        });
        match copied.await {
            Ok(result) => result?,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
        self.checkout = to;
        self.borrowed = false;
        Ok(())
    }

    pub fn checkout(&self) -> &Path {
        &self.checkout
    }

    /// Room for per-run directories and reports, next to the checkout.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Leaves the scratch directory on disk and returns its path (`preserve_temp_dir`).
    pub fn keep(self) -> PathBuf {
        self.scratch.keep()
    }
}

fn fill(
    repo: &RepoSource,
    git_ref: Option<&str>,
    dest: &Path,
    settings: &FetchSettings,
    deadline: Instant,
) -> Result<Option<String>, WorkspaceError> {
    match repo {
        RepoSource::Remote(url) => {
            let shown = url.to_string();
            let request = fetch::FetchRequest {
                url: url.expose(),
                shown: &shown,
                git_ref,
                token: settings.token.as_ref().filter(|_| url.is_https()),
                shallow: true,
                deadline,
            };
            fetch::fetch_into(&request, dest).map(Some)
        }
        RepoSource::Local(path) if git_ref.is_some() => {
            let shown = path.display().to_string();
            let request = fetch::FetchRequest {
                url: &shown,
                shown: &shown,
                git_ref,
                token: None,
                shallow: false,
                deadline,
            };
            fetch::fetch_into(&request, dest).map(Some)
        }
        RepoSource::Local(path) => {
            copy::copy_repo(path, dest).map_err(|source| WorkspaceError::Copy {
                path: path.clone(),
                source,
            })?;
            Ok(head_commit(path))
        }
    }
}

/// The merge base of `head` (default: the default branch) and the repository's default
/// branch: a pull request's base when none is given. Fetches both whole into a scratch
/// directory under `parent`, removed after.
pub async fn merge_base(
    repo: &RepoSource,
    head: Option<&str>,
    parent: &Path,
    settings: &FetchSettings,
) -> Result<fetch::MergeBase, WorkspaceError> {
    let scratch = scratch_in(parent)?;
    let dest = scratch.path().join("merge-base.git");
    let deadline = Instant::now() + settings.timeout;
    let shown = repo.display();
    let work = {
        let (repo, settings) = (repo.clone(), settings.clone());
        let head = head.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let (url, token) = match &repo {
                RepoSource::Remote(url) => (
                    url.expose().to_string(),
                    settings.token.as_ref().filter(|_| url.is_https()).cloned(),
                ),
                RepoSource::Local(path) => (path.display().to_string(), None),
            };
            let shown = repo.display();
            let request = fetch::FetchRequest {
                url: &url,
                shown: &shown,
                git_ref: head.as_deref(),
                token: token.as_ref(),
                shallow: false,
                deadline,
            };
            fetch::merge_base_into(&request, &dest)
        })
    };
    match tokio::time::timeout(settings.timeout + Duration::from_secs(2), work).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(WorkspaceError::Timeout { url: shown }),
    }
}

/// A new `flaky-job-*` scratch directory under `parent` (made if missing).
fn scratch_in(parent: &Path) -> Result<TempDir, WorkspaceError> {
    std::fs::create_dir_all(parent).map_err(|source| WorkspaceError::Scratch {
        path: parent.to_path_buf(),
        source,
    })?;
    // Private whatever the umask: clones, run places and the fork servers' sockets are in it.
    tempfile::Builder::new()
        .prefix("flaky-job-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(|source| WorkspaceError::Scratch {
            path: parent.to_path_buf(),
            source,
        })
}

/// The HEAD commit of a local directory that is a git repository, for reports.
///
/// Read from `.git` directly when HEAD is detached or names a branch held as a loose or packed
/// ref, the common case: opening the repository with libgit2 first initialises OpenSSL and
/// loads the system's CA bundle, a fifth of what a short job on a local directory cost
/// besides its runs. Anything else (a `.git` file, a symbolic ref to a ref) goes to libgit2.
fn head_commit(path: &Path) -> Option<String> {
    read_head(&path.join(".git")).or_else(|| {
        let repo = git2::Repository::open(path).ok()?;
        let commit = repo.head().ok()?.peel_to_commit().ok()?;
        Some(commit.id().to_string())
    })
}

/// HEAD's commit from the files of the git directory `git`, when it is that simple.
fn read_head(git: &Path) -> Option<String> {
    let full_sha = |text: &str| (text.len() == 40 && is_hex_sha(text)).then(|| text.to_string());
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let Some(name) = head.trim().strip_prefix("ref: ") else {
        return full_sha(head.trim());
    };
    if !name.starts_with("refs/heads/") || name.contains("..") {
        return None;
    }
    if let Ok(loose) = std::fs::read_to_string(git.join(name)) {
        return full_sha(loose.trim());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(_, ref_name)| *ref_name == name)
        .and_then(|(id, _)| full_sha(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with one commit on `main`, its id, and libgit2's answer for HEAD.
    fn repository() -> (tempfile::TempDir, git2::Repository, git2::Oid) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        std::fs::write(dir.path().join("a.txt"), "a").expect("write");
        let mut index = repo.index().expect("index");
        index.add_path(Path::new("a.txt")).expect("add");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let who = git2::Signature::now("t", "t@localhost").expect("signature");
        let id = repo
            .commit(Some("refs/heads/main"), &who, &who, "one", &tree, &[])
            .expect("commit");
        drop(tree);
        repo.set_head("refs/heads/main").expect("head");
        (dir, repo, id)
    }

    #[test]
    fn head_is_read_from_loose_packed_and_detached_refs_as_libgit2_reads_it() {
        let (dir, repo, id) = repository();
        let git = dir.path().join(".git");
        assert_eq!(read_head(&git), Some(id.to_string()), "loose ref");
        // Packed: the loose file goes, packed-refs holds it (as `git pack-refs --all` does).
        std::fs::remove_file(git.join("refs/heads/main")).expect("unpack");
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs with: peeled fully-peeled sorted\n{id} refs/heads/main\n"),
        )
        .expect("packed-refs");
        assert_eq!(read_head(&git), Some(id.to_string()), "packed ref");
        assert_eq!(head_commit(dir.path()), Some(id.to_string()));
        repo.set_head_detached(id).expect("detach");
        assert_eq!(read_head(&git), Some(id.to_string()), "detached");
        // An unborn branch has no commit, here and in libgit2.
        repo.set_head("refs/heads/none").expect("unborn");
        assert_eq!(read_head(&git), None);
        assert_eq!(head_commit(dir.path()), None);
        assert_eq!(head_commit(&dir.path().join("no-such-dir")), None);
    }
}

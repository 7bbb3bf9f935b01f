//! The scratch folders of a run (`tmp`, `cache`, `home`): made fresh per run when they are
//! kept for inspection ([`fresh_scratch`]), otherwise one set per slot, brought back to the
//! fresh state before each run ([`reuse_scratch`]).

use std::io;
use std::path::{Path, PathBuf};

use super::home::{HomeStamp, RunHome};
use super::tree::remove_any;
use crate::runner::RunnerError;

/// A run's own `tmp`, `cache` and (with `home`) `home` in the new directory `dir`.
pub fn fresh_scratch(dir: &Path, home: Option<&RunHome>) -> io::Result<Option<HomeStamp>> {
    let cache = dir.join("cache");
    std::fs::create_dir(dir.join("tmp"))?;
    std::fs::create_dir(&cache)?;
    home.map(|home| home.build(&dir.join("home"), &cache))
        .transpose()
}

/// The slot's `tmp`, `cache` and `home` in `dir`, as a fresh run would find them: made on the
/// slot's first run (or after a run whose place was lost), emptied and checked after that.
pub fn reuse_scratch(
    dir: &Path,
    home: Option<&RunHome>,
    previous: Option<Option<HomeStamp>>,
) -> io::Result<Option<HomeStamp>> {
    let cache = dir.join("cache");
    match previous {
        Some(stamp) => {
            empty_dir(&dir.join("tmp"))?;
            empty_dir(&cache)?;
            match (home, stamp) {
                (Some(home), Some(stamp)) => {
                    home.refresh(&dir.join("home"), &cache, &stamp).map(Some)
                }
                (Some(home), None) => {
                    remove_any(&dir.join("home"))?;
                    home.build(&dir.join("home"), &cache).map(Some)
                }
                (None, _) => Ok(None),
            }
        }
        None => {
            std::fs::create_dir_all(dir)?;
            for name in ["tmp", "cache", "home"] {
                remove_any(&dir.join(name))?;
            }
            fresh_scratch(dir, home)
        }
    }
}

/// Removes everything inside `dir`, which must end up an empty directory (it is made again if
/// a run removed or replaced it). One directory read when it is empty already.
fn empty_dir(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) => {
            remove_any(dir)?;
            return std::fs::create_dir(dir);
        }
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// `run-N`, or `run-N.2`, `run-N.3` … when a directory of that name was kept by an earlier
/// phase of the job (`preserve_temp_dir` with replayed attempts).
pub fn new_run_dir(runs_dir: &Path, attempt: u32) -> Result<PathBuf, RunnerError> {
    let mut candidate = runs_dir.join(format!("run-{attempt}"));
    for n in 2.. {
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                candidate = runs_dir.join(format!("run-{attempt}.{n}"));
            }
            Err(source) => {
                return Err(RunnerError::RunDir {
                    path: candidate,
                    source,
                });
            }
        }
    }
    unreachable!("the loop returns")
}

//! A run's own `HOME` ([`RunHome`]): a directory whose entries are symlinks to the entries of
//! the real home, except `.cache`, which is the run's own cache folder. A slot's next run
//! reuses it when its top level is as built ([`RunHome::refresh`]).
//!
//! Why not an empty home: toolchains live there (`~/.rustup`, `~/.pyenv`, `~/.local` with
//! pip's user site, `~/.nvm`), and so does configuration tests legitimately read
//! (`~/.gitconfig` for a commit's author). Why not the real one: a test that keeps state in a
//! new `~/.myapp` would collide with itself across concurrent runs. With symlinks, everything
//! the home had is there, and whatever a run creates at the top of its home is its own;
//! writes *inside* an existing folder (`~/.npm`, `~/.config/x`) still reach the real one, as
//! they would without isolation.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// The names at the top of the real home, listed once per job.
#[derive(Debug, Clone, Default)]
pub struct RunHome {
    real: Option<PathBuf>,
    names: Vec<OsString>,
}

impl RunHome {
    /// Lists `real` (blocking). An unset or unreadable home gives runs an empty one.
    pub fn list(real: Option<&Path>) -> RunHome {
        let Some(real) = real.filter(|p| p.is_absolute()) else {
            return RunHome::default();
        };
        let mut names: Vec<OsString> = match std::fs::read_dir(real) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|name| name != ".cache")
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        RunHome {
            real: Some(real.to_path_buf()),
            names,
        }
    }

    /// Makes the home at `home` (created) with `.cache` pointing at `cache`, and returns its
    /// stamp. Blocking.
    pub fn build(&self, home: &Path, cache: &Path) -> io::Result<HomeStamp> {
        std::fs::create_dir(home)?;
        std::os::unix::fs::symlink(cache, home.join(".cache"))?;
        if let Some(real) = &self.real {
            for name in &self.names {
                std::os::unix::fs::symlink(real.join(name), home.join(name))?;
            }
        }
        HomeStamp::of(home)
    }

    /// Makes the home at `home` as [`RunHome::build`] would, reusing the one a previous run
    /// had when its top level is as built (`made`): one `stat` and one directory read instead
    /// of a symlink per entry. Blocking.
    pub fn refresh(&self, home: &Path, cache: &Path, made: &HomeStamp) -> io::Result<HomeStamp> {
        match HomeStamp::of(home) {
            Ok(now) if now == *made => Ok(now),
            _ => {
                super::tree::remove_any(home)?;
                self.build(home, cache)
            }
        }
    }
}

/// The top level of a built home: its directory's inode and times (which move whenever an
/// entry is added, removed or renamed) and each entry's name, type and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeStamp {
    dir: [i64; 5],
    entries: Vec<(OsString, u64, bool)>,
}

impl HomeStamp {
    fn of(home: &Path) -> io::Result<HomeStamp> {
        use std::os::unix::fs::{DirEntryExt, MetadataExt};
        let meta = std::fs::symlink_metadata(home)?;
        let mut entries = std::fs::read_dir(home)?
            .map(|e| {
                let e = e?;
                Ok((e.file_name(), e.ino(), e.file_type()?.is_symlink()))
            })
            .collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        Ok(HomeStamp {
            dir: [
                meta.ino() as i64,
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
            ],
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_home_reads_the_real_one_and_keeps_new_things_to_itself() {
        let real = tempfile::tempdir().expect("tempdir");
        std::fs::write(real.path().join(".gitconfig"), "[user]\nname = x\n").expect("write");
        std::fs::create_dir_all(real.path().join(".config/tool")).expect("mkdir");
        std::fs::create_dir(real.path().join(".cache")).expect("mkdir");
        let runs = tempfile::tempdir().expect("tempdir");
        let cache = runs.path().join("cache");
        std::fs::create_dir(&cache).expect("mkdir");
        let home = runs.path().join("home");

        let run_home = RunHome::list(Some(real.path()));
        let made = run_home.build(&home, &cache).expect("build");

        assert!(
            std::fs::read_to_string(home.join(".gitconfig"))
                .expect("read")
                .contains("name = x")
        );
        assert!(home.join(".config/tool").is_dir());
        std::fs::write(home.join(".cache/x"), "run").expect("write cache");
        assert!(cache.join("x").exists(), ".cache is the run's cache");
        assert!(!real.path().join(".cache/x").exists());
        std::fs::create_dir(home.join(".myapp")).expect("new state");
        assert!(!real.path().join(".myapp").exists());

        // The next run in the slot gets a home as built, whatever this one did.
        let fresh = run_home.refresh(&home, &cache, &made).expect("refresh");
        assert!(!home.join(".myapp").exists());
        assert!(home.join(".config/tool").is_dir());
        assert_eq!(
            run_home.refresh(&home, &cache, &fresh).expect("refresh"),
            fresh,
            "an untouched home is kept"
        );

        // Removing the run's home removes the links, never what they point at.
        std::fs::remove_dir_all(&home).expect("remove");
        assert!(real.path().join(".config/tool").is_dir());
        assert!(real.path().join(".gitconfig").is_file());
    }

    #[test]
    fn no_home_gives_an_empty_one() {
        let runs = tempfile::tempdir().expect("tempdir");
        let cache = runs.path().join("cache");
        std::fs::create_dir(&cache).expect("mkdir");
        RunHome::list(None)
            .build(&runs.path().join("home"), &cache)
            .expect("build");
        let entries = std::fs::read_dir(runs.path().join("home"))
            .expect("read")
            .count();
        assert_eq!(entries, 1, "only .cache");
    }
}

//! Seeded test order for Mocha ([`MochaOrderHook`]), which has no shuffle of its own: a root
//! hook plugin shipped inside the binary, written to the cache and loaded with `--require`.
//! It shuffles with the run's `FLAKY_SEED` when `FLAKY_SHUFFLE=1`, the variables pytest's
//! order plugin reads too; the hook's own comment says how.

use std::path::{Path, PathBuf};

use crate::framework::shipped::write_shipped;

/// The hook's source, written to the cache directory at run time.
const SOURCE: &str = include_str!("mocha_order.cjs");
const FILE: &str = "flaky_detector_order.cjs";

/// The hook, written where the runs can load it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MochaOrderHook {
    pub path: PathBuf,
}

impl MochaOrderHook {
    /// Writes the hook under `cache_dir` ([`write_shipped`]). Blocking file work.
    pub fn install(cache_dir: &Path) -> std::io::Result<MochaOrderHook> {
        let path = write_shipped(cache_dir, "mocha-order", FILE, SOURCE)?;
        Ok(MochaOrderHook { path })
    }

    /// The arguments that load the hook into Mocha.
    pub fn args(&self) -> Vec<String> {
        vec!["--require".into(), self.path.display().to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_is_written_once_per_version() {
        let cache = tempfile::tempdir().expect("cache dir");
        let hook = MochaOrderHook::install(cache.path()).expect("written");
        assert_eq!(std::fs::read_to_string(&hook.path).expect("read"), SOURCE);
        assert_eq!(MochaOrderHook::install(cache.path()).expect("again"), hook);
        assert_eq!(hook.args()[0], "--require");
    }
}

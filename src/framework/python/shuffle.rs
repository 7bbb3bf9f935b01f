//! Whether pytest-randomly is installed for the runs, which decides how pytest is shuffled.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::process::{ProcessSpec, run_process};

/// Exits 0 when `pytest_randomly` can be found, without running it or anything of the
/// working directory.
const FIND_PYTEST_RANDOMLY: &str = "import sys, importlib.util\n\
sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n\
sys.exit(0 if importlib.util.find_spec('pytest_randomly') else 1)";

/// True when the pytest-randomly plugin is installed for the runs' interpreter: the one the
/// command names (`python -m pytest`, a relative path taken from `cwd`), else `python3` from
/// the runs' PATH. A probe that cannot start or times out counts as "not installed".
///
/// The probe runs outside any overlay, so it must execute nothing of the checkout (issue 21,
/// finding 3: a repository's `pytest_randomly.py` was imported, and ran, in the user's own
/// directory): it runs from `/`, drops the working directory from `sys.path`, and only
/// looks the module up (`importlib.util.find_spec`), never imports it.
pub async fn pytest_randomly_installed(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    cancel: &CancellationToken,
) -> bool {
    let python = argv
        .iter()
        .take(4)
        .find(|w| {
            w.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with("python"))
        })
        .map(
            |python| match python.contains('/') && !python.starts_with('/') {
                true => cwd.join(python).display().to_string(),
                false => python.clone(),
            },
        )
        .or_else(|| crate::framework::install::find_on_path(env, "python3"))
        .unwrap_or_else(|| "python3".into());
    let spec = ProcessSpec {
        program: python,
        arg0: None,
        args: vec!["-c".into(), FIND_PYTEST_RANDOMLY.into()],
        cwd: PathBuf::from("/"),
        env: env.to_vec(),
        timeout: Duration::from_secs(60),
        kill_grace: Duration::from_secs(1),
        output_limit: 4096,
        overlay: None,
    };
    matches!(run_process(&spec, cancel).await, Ok(out) if out.outcome.passed())
}

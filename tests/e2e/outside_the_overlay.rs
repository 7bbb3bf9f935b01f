//! Issue 21, finding 3: what a job runs outside its runs' overlays (build-once's build step,
//! `--shuffle`'s probe for pytest-randomly) never writes in, nor executes code from, a local
//! directory used in place. Real binary, real runs, stand-in tools on `PATH`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::support::{Sandbox, path_str, project};

/// Every file under `dir` (relative path, content), sorted: the directory byte for byte.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir").flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path.clone());
            }
            let name = path
                .strip_prefix(dir)
                .expect("under dir")
                .display()
                .to_string();
            files.push((name, std::fs::read(&path).unwrap_or_default()));
        }
    }
    files.sort();
    files
}

/// Runs `run --json` on `repo` with `bin` first on `PATH`; returns the summary.
fn run_with_path(sandbox: &Sandbox, repo: &Path, bin: &Path, args: &[&str]) -> Value {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = sandbox
        .command()
        .current_dir(sandbox.root.path())
        .env("PATH", path)
        .env("FLAKY_DB", sandbox.root.path().join("history.db"))
        .args(["run", "--json", "--repo", path_str(repo)])
        .args(args)
        .output()
        .expect("runs");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&output.stderr)))
}

fn executable(path: &Path, script: &str) {
    std::fs::write(path, script).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_build_step_leaves_a_borrowed_directory_byte_for_byte_unchanged() {
    let repo = project(&[
        (
            "Cargo.toml",
            "[package]\nname = \"borrowed\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("src/lib.rs", "#[test]\nfn t() {}\n"),
        (".flaky-detector.yml", "auto_install_dependencies: false\n"),
    ]);
    let before = tree(repo.path());
    let sandbox = Sandbox::new();
    let bin = sandbox.root.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    // Writes where it is started, as a build does (`target/`, `Cargo.lock`), then fails.
    executable(
        &bin.join("cargo"),
        "#!/bin/sh\nmkdir -p target/debug && echo built > target/debug/out\necho lock > Cargo.lock\necho \"cargo $*\" >&2\nexit 1\n",
    );
    let summary = run_with_path(
        &sandbox,
        repo.path(),
        &bin,
        &["--command", "cargo test", "--runs", "2"],
    );
    assert_eq!(summary["total_runs"], 2, "{summary}");
    let after = tree(repo.path());
    assert!(
        after == before,
        "the borrowed directory changed: {:?}",
        after.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
}

#[test]
fn a_repository_pytest_randomly_module_is_never_executed() {
    let sandbox = Sandbox::new();
    let marker = sandbox.root.path().join("pytest_randomly_ran");
    let module = format!(
        "open({:?}, 'w').write('ran')\n",
        marker.display().to_string()
    );
    let repo = project(&[
        ("pytest_randomly.py", module.as_str()),
        ("tests/test_x.py", "def test_x():\n    pass\n"),
    ]);
    let before = tree(repo.path());
    let bin = sandbox.root.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let summary = run_with_path(
        &sandbox,
        repo.path(),
        &bin,
        &["--command", "pytest -q tests", "--runs", "2", "--shuffle"],
    );
    assert_eq!(summary["total_runs"], 2, "{summary}");
    assert!(
        !marker.exists(),
        "the repository's pytest_randomly.py ran: {summary}"
    );
    let after = tree(repo.path());
    assert!(
        after == before,
        "the borrowed directory changed: {:?}",
        after.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
}

//! Tells the integration tests which external tools this machine has, as `--cfg has_<tool>`
//! (for example `has_go`), so that a test needing a missing tool is listed as ignored with
//! the reason (`cargo test` prints `... ignored, needs go (apt-get install golang)`) instead
//! of returning early and passing. git, python3, pytest and cargo are always expected: the
//! tests that use them fail, saying how to install them, when they are missing. Cargo passes a build script's cfgs to every target of the package,
//! integration tests included.
//!
//! `FLAKY_REQUIRE_TOOLS=1` (set by `.ci/run`) turns every cfg of `TOOLS` on, so in CI every
//! test runs and a missing tool fails its test loudly (`UNWANTED` and `PRIVILEGES` are
//! probed all the same). After installing a tool locally, a change of
//! `PATH` or `touch build.rs` makes Cargo probe again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// cfg name, and how to tell the tool is there.
const TOOLS: &[(&str, Probe)] = &[
    ("has_go", Probe::OnPath("go")),
    ("has_node", Probe::OnPath("npm")),
    ("has_chromium", Probe::Chromium),
    ("has_postgres", Probe::Postgres),
    ("has_nextest", Probe::OnPath("cargo-nextest")),
    ("has_make", Probe::OnPath("make")),
    ("has_runpod_sdk", Probe::Python("runpod")),
    ("has_actionlint", Probe::OnPath("actionlint")),
    ("has_hadolint", Probe::OnPath("hadolint")),
    ("has_shellcheck", Probe::OnPath("shellcheck")),
    // The coverage gate's `--cov-fail-under` (tests/tools/command_failure.rs).
    ("has_pytest_cov", Probe::Python("pytest_cov")),
    // The private CA of the PostgreSQL TLS test (tests/tools/history_sealed.rs).
    ("has_openssl", Probe::OnPath("openssl")),
    // Becoming another user in a root run (tests/e2e/sealed_runs.rs).
    ("has_setpriv", Probe::OnPath("setpriv")),
    // A real consumer of the JUnit report, and Surefire's XSD checked by libxml2
    // (tests/e2e/junit_report.rs).
    ("has_junitparser", Probe::Python("junitparser")),
    ("has_xmllint", Probe::OnPath("xmllint")),
];

/// Tools a test needs to be absent, as `--cfg has_<tool>`: probed even under
/// `FLAKY_REQUIRE_TOOLS=1`, since forcing their cfg on would ignore the very tests that
/// need them missing (CI does not install them, so those tests run there).
const UNWANTED: &[(&str, Probe)] = &[
    // Our own shuffle plugin, which only runs without pytest-randomly (tests/tools/order.rs).
    ("has_pytest_randomly", Probe::Python("pytest_randomly")),
];

enum Probe {
    /// An executable of this name on `PATH`.
    OnPath(&'static str),
    /// A module `python3` can import.
    Python(&'static str),
    /// `CHROMIUM`, or a Chromium or Chrome on `PATH` (as `tests/tools/dashboard_browser.rs`
    /// looks for it).
    Chromium,
    /// Debian's server binaries under `/usr/lib/postgresql/<version>/bin`.
    Postgres,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn present(probe: &Probe) -> bool {
    match probe {
        Probe::OnPath(program) => on_path(program),
        Probe::Python(module) => Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        Probe::Chromium => {
            std::env::var_os("CHROMIUM").is_some_and(|path| !path.is_empty())
                || ["chromium", "chromium-browser", "google-chrome", "chrome"]
                    .iter()
                    .any(|name| on_path(name))
        }
        Probe::Postgres => std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
            versions.filter_map(Result::ok).any(|v| {
                let bin: PathBuf = v.path().join("bin");
                is_executable(&bin.join("initdb")) && is_executable(&bin.join("pg_ctl"))
            })
        }),
    }
}

/// Privileges rather than tools, as `--cfg has_<privilege>`: probed even under
/// `FLAKY_REQUIRE_TOOLS=1`, since no install step grants them (a CI container may lack
/// them), so a test that needs one is listed as ignored, with the reason, where it is missing.
const PRIVILEGES: &[(&str, &[&str])] = &[
    // A PID namespace with its own /proc: the server as PID 1 (tests/e2e/serve_api.rs).
    (
        "has_pid_namespace",
        &["unshare", "-fp", "--mount-proc", "true"],
    ),
    // Root: what a root run must not be able to do (tests/e2e/sealed_runs.rs), and the
    // fork server's socket refusing another user (which only root can become).
    ("has_root", &["sh", "-c", "test \"$(id -u)\" -eq 0"]),
    // An overlay mount a run's files can be written through (tests/e2e/isolation.rs), tried
    // the ways `OverlayBase::probe` tries them: a mount namespace (root), then a user
    // namespace with and without `userxattr`.
    ("has_overlay", &["sh", "-c", OVERLAY_PROBE]),
];

/// Mounts an overlay in a new temp dir and writes a file through it; cleans up either way.
const OVERLAY_PROBE: &str = r#"d=$(mktemp -d) || exit 1
mkdir "$d/l" "$d/u" "$d/w" "$d/m"
try() { unshare $1 sh -c "mount -t overlay overlay -o $2lowerdir=$d/l,upperdir=$d/u,workdir=$d/w $d/m && touch $d/m/probe"; }
try -m '' || try -Urm userxattr, || try -Urm ''
ok=$?
chmod -R u+rwx "$d" 2>/dev/null
rm -rf "$d"
exit $ok"#;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CHROMIUM");
    println!("cargo::rerun-if-env-changed=FLAKY_REQUIRE_TOOLS");
    let require_all = std::env::var("FLAKY_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    for (cfg, probe) in TOOLS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if require_all || present(probe) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    for (cfg, probe) in UNWANTED {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if present(probe) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    for (cfg, argv) in PRIVILEGES {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let granted = Command::new(argv[0])
            .args(&argv[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if granted {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

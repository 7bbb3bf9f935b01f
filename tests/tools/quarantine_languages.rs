//! Issue 26's quarantine round trip in Go, Jest, Vitest and nextest (pytest's is in `tests/e2e`):
//! a project made here with a stable, a flaky, a to-be-fixed and a broken test, history in a
//! real SQLite file through the binary; after `quarantine`, the runner's command with what
//! `quarantine --apply-args RUNNER` printed exits 0 although the flaky tests fail, the
//! broken test is never in the file (and still fails), and the fixed test leaves the file
//! once 14 clean runs are recorded (`fixed_below: 0.2`).

use crate::support;

use std::path::Path;
use std::process::Output;

use support::Sandbox;
use support::pertest::{npm_ci_from_example, require_tool};
use support::quarantine::{listed, quarantine, record_job, run_applied, seeds};

/// fixed_below 0.2: 14 clean runs earn `fixed`.
const RULES: &str = "quarantine:\n  rate_threshold: 0.1\n  min_runs: 10\n  fixed_below: 0.2\n";

/// One language's project.
struct Lang {
    runner: &'static str,
    /// The detector's command over every test.
    command: &'static str,
    /// The runner on the flaky tests' unit alone, and on the broken one's alone.
    flaky_only: &'static str,
    broken_only: &'static str,
    flaky: &'static str,
    to_fix: &'static str,
    broken: &'static str,
    env: &'static [(&'static str, &'static str)],
}

const GO_ENV: &[(&str, &str)] = &[("GOFLAGS", "-mod=mod"), ("GOTOOLCHAIN", "local")];

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
    std::fs::write(path, text).expect("write the project");
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_go(dir: &Path) {
    write(dir, "go.mod", "module example.com/q\n\ngo 1.19\n");
    write(dir, "q.go", "package q\n");
    write(
        dir,
        "q_test.go",
        "package q\n\nimport (\n\t\"os\"\n\t\"strconv\"\n\t\"testing\"\n)\n\n\
         func seed() int {\n\tn, _ := strconv.Atoi(os.Getenv(\"TEST_SEED\"))\n\treturn n\n}\n\n\
         func TestStable(t *testing.T) {}\n\n\
         func TestFlaky(t *testing.T) {\n\tif seed()%3 == 0 {\n\t\tt.Fatal(\"seed is a multiple of 3\")\n\t}\n}\n\n\
         func TestToFix(t *testing.T) {\n\tif _, err := os.Stat(\"FIXED\"); err != nil && seed()%3 == 0 {\n\t\tt.Fatal(\"seed is a multiple of 3\")\n\t}\n}\n",
    );
    write(dir, "broken/b.go", "package broken\n");
    write(
        dir,
        "broken/b_test.go",
        "package broken\n\nimport \"testing\"\n\nfunc TestBroken(t *testing.T) {\n\tt.Fatal(\"broken for every seed\")\n}\n",
    );
}

/// A JavaScript suite for Jest or Vitest with the example project's pinned dependencies,
/// installed in the project too (the applied command runs there).
fn write_js(dir: &Path, example: &str) {
    let vitest = example.ends_with("vitest");
    let import = if vitest {
        "import { describe, test, expect } from 'vitest';\nimport { existsSync } from 'node:fs';\n"
    } else {
        "const { existsSync } = require('node:fs');\n"
    };
    write(
        dir,
        "flaky.test.js",
        &format!(
            "{import}const seed = Number(process.env.TEST_SEED || '0');\n\n\
             describe('suite', () => {{\n\
             \x20 test('stable', () => {{ expect(1).toBe(1); }});\n\
             \x20 test('flaky', () => {{ expect(seed % 3).not.toBe(0); }});\n\
             \x20 test('to fix', () => {{ expect(existsSync('FIXED') || seed % 3 !== 0).toBe(true); }});\n\
             }});\n"
        ),
    );
    write(
        dir,
        "broken.test.js",
        &format!(
            "{}describe('suite', () => {{\n  test('broken', () => {{ expect(1).toBe(2); }});\n}});\n",
            if vitest {
                "import { describe, test, expect } from 'vitest';\n"
            } else {
                ""
            }
        ),
    );
    if !vitest {
        write(
            dir,
            "jest.config.js",
            "module.exports = { testEnvironment: 'node' };\n",
        );
    }
    npm_ci_from_example(dir, example);
}

fn round_trip(repo: &Path, lang: &Lang) {
    write(repo, ".flaky-detector.yml", RULES);
    let sandbox = Sandbox::new();
    let db = sandbox.root.path().join("history.db");
    let env_flags: Vec<String> = lang
        .env
        .iter()
        .flat_map(|(k, v)| ["--env".to_string(), format!("{k}={v}")])
        .collect();
    let env_flags: Vec<&str> = env_flags.iter().map(String::as_str).collect();

    record_job(
        &sandbox,
        repo,
        &db,
        lang.command,
        &seeds(1..=12),
        &env_flags,
    );
    let said = quarantine(&sandbox, repo, &db, &[]);
    let file = listed(repo);
    for id in [lang.flaky, lang.to_fix] {
        assert!(file.contains(id), "{id} quarantined: {file}\n{said}");
    }
    assert!(
        !file.contains(lang.broken),
        "broken never quarantined: {file}"
    );

    // Seed 3 fails both flaky tests: the plain command fails, the applied one passes.
    let plain = run_applied(repo, "", lang.flaky_only, false, 3, lang.env);
    assert!(!plain.status.success(), "{}", text(&plain));
    let line = quarantine(&sandbox, repo, &db, &["--apply-args", lang.runner]);
    let applied = run_applied(repo, &line, lang.flaky_only, false, 3, lang.env);
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{} {line}\n{}",
        lang.flaky_only,
        text(&applied)
    );
    let broken = run_applied(repo, &line, lang.broken_only, false, 3, lang.env);
    assert!(!broken.status.success(), "{}", text(&broken));

    std::fs::write(repo.join("FIXED"), "").expect("the fix");
    record_job(
        &sandbox,
        repo,
        &db,
        lang.command,
        &seeds(1..=14),
        &env_flags,
    );
    let said = quarantine(&sandbox, repo, &db, &[]);
    let file = listed(repo);
    assert!(!file.contains(lang.to_fix), "fixed leaves: {file}\n{said}");
    assert!(file.contains(lang.flaky), "{file}");
    assert!(
        said.contains(&format!(
            "- {}  fixed: ≤ 20 % after 14 clean runs",
            lang.to_fix.trim_start_matches("id: ")
        )),
        "{said}"
    );
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[test]
fn go_quarantine_round_trip() {
    require_tool("go", "apt-get install -y golang");
    let repo = tempfile::tempdir().expect("repo dir");
    write_go(repo.path());
    round_trip(
        repo.path(),
        &Lang {
            runner: "go",
            command: "go test -count=1 ./...",
            flaky_only: "go test -count=1 .",
            broken_only: "go test -count=1 ./broken",
            flaky: "id: example.com/q::TestFlaky",
            to_fix: "id: example.com/q::TestToFix",
            broken: "TestBroken",
            env: GO_ENV,
        },
    );
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[test]
fn jest_quarantine_round_trip() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    write_js(repo.path(), "typescript-jest");
    round_trip(
        repo.path(),
        &Lang {
            runner: "jest",
            command: "npx jest",
            flaky_only: "npx jest flaky.test.js",
            broken_only: "npx jest broken.test.js",
            flaky: "id: flaky.test.js::suite › flaky",
            to_fix: "id: flaky.test.js::suite › to fix",
            broken: "broken.test.js",
            env: &[],
        },
    );
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[test]
fn vitest_quarantine_round_trip() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    write_js(repo.path(), "typescript-vitest");
    round_trip(
        repo.path(),
        &Lang {
            runner: "vitest",
            command: "npx vitest run",
            flaky_only: "npx vitest run flaky.test.js",
            broken_only: "npx vitest run broken.test.js",
            flaky: "id: flaky.test.js::suite > flaky",
            to_fix: "id: flaky.test.js::suite > to fix",
            broken: "broken.test.js",
            env: &[],
        },
    );
}

/// A crate whose unit tests hold the stable, flaky and to-be-fixed tests, and whose
/// integration test `broken` fails every run.
fn write_rust(dir: &Path) {
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"q\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        dir,
        "src/lib.rs",
        "#[cfg(test)]\nmod tests {\n\
         \x20   fn seed() -> u64 { std::env::var(\"TEST_SEED\").ok().and_then(|s| s.parse().ok()).unwrap_or(0) }\n\
         \x20   #[test]\n    fn stable() {}\n\
         \x20   #[test]\n    fn flaky() { assert_ne!(seed() % 3, 0, \"seed is a multiple of 3\"); }\n\
         \x20   #[test]\n    fn to_fix() {\n        let fixed = std::path::Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"FIXED\").exists();\n        assert!(fixed || seed() % 3 != 0, \"seed is a multiple of 3\");\n    }\n}\n",
    );
    write(
        dir,
        "tests/broken.rs",
        "#[test]\nfn broken() {\n    panic!(\"broken\");\n}\n",
    );
}

#[cfg_attr(
    not(has_nextest),
    ignore = "needs cargo-nextest (cargo install cargo-nextest)"
)]
#[test]
fn nextest_quarantine_round_trip() {
    require_tool("cargo-nextest", "cargo install --locked cargo-nextest");
    let repo = tempfile::tempdir().expect("repo dir");
    write_rust(repo.path());
    round_trip(
        repo.path(),
        &Lang {
            runner: "nextest",
            command: "cargo nextest run --no-fail-fast",
            flaky_only: "cargo nextest run --lib",
            broken_only: "cargo nextest run --test broken",
            flaky: "id: q::tests::flaky",
            to_fix: "id: q::tests::to_fix",
            broken: "::broken",
            env: &[],
        },
    );
}

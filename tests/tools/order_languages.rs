//! Order dependence outside pytest (issue 24): a Go package, a Jest file, a Vitest file and
//! a Mocha file (shuffled by our own hook), each made here with 20 tests among which a polluter–victim pair (a registry never
//! reset) and a setter–brittle pair (a flag only one test sets). Shuffled with the runs'
//! seeds, both victims are `order-dependent`, the polluter search names the polluter and the
//! setter through the runner's own name filter, and the reproduce lines, pasted into a
//! shell in the project, fail, while the same tests in file order pass.

use crate::support::pertest as pertest_support;

use std::path::Path;
use std::process::{Command, Output};

use flaky_detector::Summary;
use flaky_detector::analysis::Verdict;
use flaky_detector::summary::{Classification, OrderRole};
use pertest_support::{npm_ci_from_example, require_tool, run_job_in};
use serde_json::json;

/// One language's project: how to write it, run it and name its tests.
struct Project {
    command: &'static str,
    env: serde_json::Value,
    victim: &'static str,
    polluter: &'static str,
    brittle: &'static str,
    setter: &'static str,
    /// The setter and the brittle test alone, in file order (which passes).
    setter_then_brittle: &'static str,
    /// Words of a reproduce line that shuffle; dropping them runs the same tests in file
    /// order, where the victim runs before its polluter.
    shuffle_words: &'static [&'static str],
}

const GO: Project = Project {
    command: "go test ./...",
    env: serde_json::Value::Null,
    victim: "example.com/registry::TestVictimNeedsEmptyRegistry",
    polluter: "example.com/registry::TestPolluterRegisters",
    brittle: "example.com/registry::TestBrittleNeedsConfig",
    setter: "example.com/registry::TestSetterConfigures",
    setter_then_brittle: "go test -run '^(TestSetterConfigures|TestBrittleNeedsConfig)$' ./...",
    shuffle_words: &["-shuffle="],
};

const JEST: Project = Project {
    command: "npx jest",
    env: serde_json::Value::Null,
    victim: "registry.test.js::registry › starts empty",
    polluter: "registry.test.js::registry › adds an entry",
    brittle: "registry.test.js::registry › needs config",
    setter: "registry.test.js::registry › configures",
    setter_then_brittle: "npx jest -t '^(registry configures|registry needs config)$'",
    shuffle_words: &["--randomize", "--seed="],
};

const VITEST: Project = Project {
    command: "npx vitest run",
    env: serde_json::Value::Null,
    victim: "registry.test.js::registry > starts empty",
    polluter: "registry.test.js::registry > adds an entry",
    brittle: "registry.test.js::registry > needs config",
    setter: "registry.test.js::registry > configures",
    setter_then_brittle: "npx vitest run -t '^(registry configures|registry needs config)$'",
    shuffle_words: &["--sequence.shuffle", "--sequence.seed="],
};

const MOCHA: Project = Project {
    command: "npx mocha",
    env: serde_json::Value::Null,
    victim: "registry::starts empty",
    polluter: "registry::adds an entry",
    brittle: "registry::needs config",
    setter: "registry::configures",
    setter_then_brittle: "npx mocha --grep '^(registry configures|registry needs config)$'",
    shuffle_words: &["FLAKY_SHUFFLE=", "FLAKY_SEED="],
};

/// A Go package: in file order the victim runs before its polluter and the setter before
/// the brittle test; 16 other tests around them.
fn write_go(dir: &Path) {
    let mut src = String::from(
        "package registry\n\nimport \"testing\"\n\nvar entries = map[string]bool{}\nvar configured bool\n\n\
         func TestVictimNeedsEmptyRegistry(t *testing.T) {\n\tif len(entries) != 0 {\n\t\tt.Fatal(\"registry not empty: an earlier test left an entry\")\n\t}\n}\n\n",
    );
    for i in 0..8 {
        src.push_str(&format!("func TestOtherA{i}(t *testing.T) {{}}\n\n"));
    }
    src.push_str(
        "func TestPolluterRegisters(t *testing.T) {\n\tentries[\"leftover\"] = true\n}\n\n",
    );
    src.push_str("func TestSetterConfigures(t *testing.T) {\n\tconfigured = true\n}\n\n");
    for i in 0..8 {
        src.push_str(&format!("func TestOtherB{i}(t *testing.T) {{}}\n\n"));
    }
    src.push_str("func TestBrittleNeedsConfig(t *testing.T) {\n\tif !configured {\n\t\tt.Fatal(\"never configured: the setup test did not run first\")\n\t}\n}\n");
    // Fails in 2 runs of 5 whatever the order: nondeterministic, never order-dependent.
    src.push_str("\nfunc TestRandomlyFails(t *testing.T) {\n\tif rand.New(rand.NewSource(time.Now().UnixNano())).Intn(5) < 2 {\n\t\tt.Fatal(\"unlucky\")\n\t}\n}\n");
    let src = src.replace(
        "import \"testing\"",
        "import (\n\t\"math/rand\"\n\t\"testing\"\n\t\"time\"\n)",
    );
    write(dir, "go.mod", "module example.com/registry\n\ngo 1.19\n");
    write(dir, "registry.go", "package registry\n");
    write(dir, "registry_test.go", &src);
}

/// The same suite as a JavaScript file for Jest, Vitest or Mocha, with the example
/// project's pinned dependencies (`example`: `typescript-jest`, `typescript-vitest` or
/// `javascript-mocha`).
fn write_js(dir: &Path, example: &str) {
    let vitest = example.ends_with("vitest");
    let mocha = example.ends_with("mocha");
    let mut src = String::new();
    if vitest {
        src.push_str("import { describe, test, expect } from 'vitest';\n");
    }
    if mocha {
        // Mocha's `it` and node's assert, in the same shape as the others.
        src.push_str("const assert = require('node:assert/strict');\nconst test = it;\nconst expect = (value) => ({ toBe: (want) => assert.equal(value, want) });\n");
    }
    src.push_str(
        "const registry = new Map();\nlet configured = false;\n\ndescribe('registry', () => {\n",
    );
    src.push_str("  test('starts empty', () => {\n    expect(registry.size).toBe(0);\n  });\n");
    for i in 0..8 {
        src.push_str(&format!(
            "  test('other a{i}', () => {{ expect(1).toBe(1); }});\n"
        ));
    }
    src.push_str("  test('adds an entry', () => {\n    registry.set('leftover', true);\n  });\n");
    src.push_str("  test('configures', () => {\n    configured = true;\n  });\n");
    for i in 0..8 {
        src.push_str(&format!(
            "  test('other b{i}', () => {{ expect(1).toBe(1); }});\n"
        ));
    }
    src.push_str(
        "  test('needs config', () => {\n    expect(configured).toBe(true);\n  });\n});\n",
    );
    if mocha {
        std::fs::create_dir_all(dir.join("test")).expect("test dir");
        write(dir, "test/registry.test.js", &src);
    } else {
        write(dir, "registry.test.js", &src);
    }
    if !vitest && !mocha {
        write(
            dir,
            "jest.config.js",
            "module.exports = { testEnvironment: 'node' };\n",
        );
    }
    // The pasted lines run in the project itself, so it gets its own node_modules.
    npm_ci_from_example(dir, example);
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write the project");
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `line` in `dir` through a shell, as a user pastes it.
fn paste(dir: &Path, line: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("sh runs")
}

/// The job, its cache kept in `cache` for the pasted lines (Mocha's load our order hook
/// from it, as they would from a user's cache).
async fn shuffled_job(dir: &Path, project: &Project, cache: &Path) -> Summary {
    let mut input = json!({
        "repo": dir,
        "test_command": project.command,
        "seeds": (1..=16).collect::<Vec<u64>>(),
        "parallelism": 2,
        "shuffle": true,
    });
    if !project.env.is_null() {
        input["env"] = project.env.clone();
    }
    run_job_in(input, cache).await
}

/// What every language must show: both tests order-dependent, polluter and setter named,
/// the lines failing when pasted and the file order passing. Returns the job's summary.
async fn order_dependence_is_named_and_replayed(dir: &Path, project: &Project) -> Summary {
    let cache = tempfile::tempdir().expect("cache dir");
    let summary = shuffled_job(dir, project, cache.path()).await;
    assert_eq!(summary.verdict, Verdict::Flaky, "{summary:#?}");
    let class_of = |name: &str| {
        summary
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} reported: {:#?}", summary.tests))
            .classification
    };
    assert_eq!(
        class_of(project.victim),
        Some(Classification::OrderDependent)
    );
    assert_eq!(
        class_of(project.brittle),
        Some(Classification::OrderDependent)
    );
    let finding = |name: &str| {
        summary
            .order_dependence
            .iter()
            .find(|f| f.test == name)
            .unwrap_or_else(|| panic!("a finding for {name}: {:#?}", summary.order_dependence))
    };

    let victim = finding(project.victim);
    assert_eq!(victim.role, OrderRole::Polluter);
    assert_eq!(victim.tests, [project.polluter]);
    assert_eq!(
        victim.sentence,
        format!(
            "`{}` fails when `{}` runs first",
            project.victim, project.polluter
        )
    );
    let line = victim.reproduce.as_deref().expect("a reproduce line");
    let out = paste(dir, line);
    assert!(!out.status.success(), "{line} should fail: {}", text(&out));
    // The same two tests in file order (the shuffle words dropped) pass.
    let words = shlex::split(line).expect("the line is shell words");
    let file_order: Vec<String> = words
        .into_iter()
        .filter(|w| !project.shuffle_words.iter().any(|s| w.starts_with(s)))
        .collect();
    let file_order = shlex::try_join(file_order.iter().map(String::as_str)).expect("joins");
    assert_ne!(file_order, line, "the line shuffles");
    let out = paste(dir, &file_order);
    assert!(
        out.status.success(),
        "{file_order} should pass: {}",
        text(&out)
    );

    let brittle = finding(project.brittle);
    assert_eq!(brittle.role, OrderRole::StateSetter);
    assert_eq!(brittle.tests, [project.setter]);
    let line = brittle.reproduce.as_deref().expect("a reproduce line");
    let out = paste(dir, line);
    assert!(!out.status.success(), "{line} should fail: {}", text(&out));
    let out = paste(dir, project.setter_then_brittle);
    assert!(
        out.status.success(),
        "{} should pass: {}",
        project.setter_then_brittle,
        text(&out)
    );
    summary
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_order_dependence_names_the_polluter_and_the_setter() {
    require_tool("go", "apt-get install -y golang");
    let repo = tempfile::tempdir().expect("repo dir");
    write_go(repo.path());
    let project = Project {
        env: json!({"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}),
        ..GO
    };
    let summary = order_dependence_is_named_and_replayed(repo.path(), &project).await;
    // A test that fails at random under shuffling is not order-dependent (issue 24, item 4).
    let random = summary
        .tests
        .iter()
        .find(|t| t.name == "example.com/registry::TestRandomlyFails")
        .expect("the random test is reported");
    assert_eq!(random.verdict, Verdict::Flaky, "{random:?}");
    assert_ne!(
        random.classification,
        Some(Classification::OrderDependent),
        "{random:?}"
    );
    assert!(
        summary
            .order_dependence
            .iter()
            .all(|f| f.test != random.name && !f.tests.contains(&random.name)),
        "{:#?}",
        summary.order_dependence
    );
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jest_order_dependence_names_the_polluter_and_the_setter() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    write_js(repo.path(), "typescript-jest");
    order_dependence_is_named_and_replayed(repo.path(), &JEST).await;
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vitest_order_dependence_names_the_polluter_and_the_setter() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    write_js(repo.path(), "typescript-vitest");
    order_dependence_is_named_and_replayed(repo.path(), &VITEST).await;
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocha_order_dependence_names_the_polluter_and_the_setter() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    write_js(repo.path(), "javascript-mocha");
    order_dependence_is_named_and_replayed(repo.path(), &MOCHA).await;
}

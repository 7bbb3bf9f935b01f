//! The JSON Schemas under `schemas/` checked against real outputs of the binary, and against
//! the input type itself, so the documents cannot drift from the code.

use crate::support;

use serde_json::{Value, json};
use support::{Sandbox, path_str, project};

pub(crate) fn schema(name: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the schema: {errors:#?}"
    );
}

#[test]
fn real_summaries_match_the_output_schema() {
    let validator = schema("summary.schema.json");
    let repo = project(&[(
        "tests/test_mixed.py",
        r#"
import os, time
SEED = int(os.environ["TEST_SEED"])

def test_stable():
    pass

def test_flaky():
    assert SEED % 2 == 1, "even seed"

def test_slow_for_seed_4():
    if SEED == 4:
        time.sleep(60)
"#,
    )]);
    let sandbox = Sandbox::new();
    let command = "pytest -q -p no:cacheprovider tests";
    let jobs: Vec<Vec<&str>> = vec![
        // Flaky, per-test attribution, confirmation.
        vec!["-c", command, "--seed", "1,2,3,5,6"],
        // A timeout.
        vec![
            "-c",
            command,
            "--seed",
            "4,5",
            "--timeout",
            "8",
            "--no-confirm",
        ],
        // Stable.
        vec!["-c", command, "--seed", "1,3,5"],
        // Always failing, with env and a ref-less local copy.
        vec![
            "-c",
            "sh -c 'echo boom >&2; exit 2'",
            "-n",
            "3",
            "--env",
            "A=b",
        ],
    ];
    for args in jobs {
        let mut full = vec!["--repo", path_str(repo.path())];
        full.extend(args.iter());
        let summary = sandbox.summary(&full);
        assert_valid(&validator, &summary, &format!("summary of {args:?}"));
    }
}

#[test]
fn the_local_test_result_wraps_a_valid_summary() {
    let validator = schema("summary.schema.json");
    let repo = project(&[("README", "x\n")]);
    // With the JUnit report, whose field the schema lists too.
    let input = json!({"input": {"repo": path_str(repo.path()), "test_command": "true", "runs": 2, "junit": true}});
    let output = Sandbox::new()
        .command()
        .arg("--test_input")
        .arg(input.to_string())
        .output()
        .expect("runs");
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_valid(&validator, &result["output"], "local test output");
    assert!(result["output"]["junit_xml"].is_string(), "{result}");
}

#[test]
fn the_input_schema_accepts_what_the_parser_accepts() {
    let validator = schema("job_input.schema.json");
    let full = json!({
        "repo": "https://github.com/a/b",
        "test_command": "pytest -q",
        "runs": 50,
        "parallelism": 5,
        "framework": "python",
        "ref": "main",
        "timeout": 30.5,
        "seeds": [1, 2],
        "tests": ["tests.test_a::test_x"],
        "triage": {"base_ref": "main", "junit": "<testsuite/>", "max_runs": 30},
        "env": {"A_B": "c"},
        "pr_number": 7,
        "branch": "feature/x",
        "commit_sha": "abcdef1",
        "isolation": "slot",
        "shuffle": true,
        "build_once": "off",
        "confirm": false,
        "confirm_budget": 12,
        "stop_early": true,
        "junit": true
    });
    assert_valid(&validator, &full, "a full input");
    let parsed = flaky_detector::JobInput::from_value(full.clone()).expect("the parser accepts it");
    // Every property the schema lists is a field of the input type, and back.
    let round_trip = serde_json::to_value(parsed).expect("serialises");
    let schema_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/job_input.schema.json"),
    )
    .expect("schema");
    let schema: Value = serde_json::from_str(&schema_text).expect("JSON");
    let mut listed: Vec<&String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    let mut fields: Vec<&String> = round_trip.as_object().expect("object").keys().collect();
    listed.sort();
    fields.sort();
    assert_eq!(listed, fields);

    // The seed project's own example input is valid.
    assert_valid(
        &validator,
        &json!({"repo": "https://github.com/runpod/testflake", "test_command": "pytest tests/test_flaky.py", "runs": 50, "parallelism": 5}),
        "the seed project's input",
    );
    for bad in [
        json!({"repo": "https://github.com/a/b", "parallelsim": 4}),
        json!({"repo": "https://github.com/a/b", "runs": 0}),
        json!({"repo": "https://github.com/a/b", "framework": "cobol"}),
        json!({"test_command": "pytest"}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} should be rejected");
        assert!(
            flaky_detector::JobInput::from_value(bad.clone())
                .and_then(|i| i.validate(flaky_detector::RepoPolicy { allow_local: false }))
                .is_err()
        );
    }
}

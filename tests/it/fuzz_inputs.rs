//! Property tests (issue 12) for everything a job submitter, a repository or a test run
//! controls: the job input (JSON), `.flaky-detector.yml`, and the three report parsers
//! (JUnit XML, `go test -json`, Jest JSON). The property is the same for each: any input
//! gives `Ok` or `Err`, never a panic or an abort (a stack overflow aborts the test binary,
//! so surviving is the assertion). Inputs mix raw bytes with documents built from each
//! format's own vocabulary, nested deep, so the parsers get past their first check.
//!
//! `cargo test --test it fuzz_inputs::` runs a few cases per target (`FUZZ_CASES`, default 64);
//! `scripts/fuzz.sh` runs many more for a bounded time.

use std::path::Path;

use flaky_detector::JobInput;
use flaky_detector::RepoPolicy;
use flaky_detector::config::FileConfig;
use flaky_detector::framework::results::{go_test, jest, junit};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // Failures are reported with their minimal input; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, nested up to a few levels, with strings from a hostile alphabet.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(hostile_string(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings that tend to break things: control characters, quotes, URL and shell syntax,
/// very long runs, non-ASCII.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-z_]{1,12}",
        "(https?|git|file|ext)://[a-zA-Z0-9@:/._~-]{0,30}",
        "[-`'\"$;|&<>\\\\ \n\t\u{0}]{0,20}",
        (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A job input close to valid: the known fields with values of any type.
fn job_input() -> impl Strategy<Value = Value> {
    let fields = [
        "repo",
        "test_command",
        "runs",
        "parallelism",
        "framework",
        "ref",
        "timeout",
        "seeds",
        "env",
        "pr_number",
        "branch",
        "commit_sha",
        "isolation",
        "shuffle",
        "confirm",
        "stop_early",
    ];
    prop::collection::vec((prop::sample::select(fields.to_vec()), json_value()), 0..10).prop_map(
        |pairs| {
            let mut object = serde_json::Map::new();
            object.insert("repo".into(), json!("https://github.com/o/r"));
            for (key, value) in pairs {
                object.insert(key.into(), value);
            }
            Value::Object(object)
        },
    )
}

/// A `.flaky-detector.yml`: known keys with YAML values of any shape, or raw text.
fn yaml_text() -> impl Strategy<Value = String> {
    let keys = [
        "runs",
        "parallelism",
        "timeout",
        "test_command",
        "ignore_patterns",
        "severity_thresholds",
        "random_seed_range",
        "junit_paths",
        "isolation",
        "output_limit_bytes",
        "preserve_temp_dir",
        "max_error_length",
        "unknown`<b>",
    ];
    let value = prop_oneof![
        "-?[0-9]{1,25}(\\.[0-9]{1,5})?",
        "\"[^\"\\\\]{0,20}\"",
        "\\[[0-9a-z, *{}]{0,20}\\]",
        "\\{[a-z]{0,5}: [0-9.-]{0,6}\\}",
        "(true|false|null|~|\\.nan|\\.inf|-\\.inf)",
        "&a \\[\\*a, \\*a\\]",
        (1usize..200).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
    ];
    prop_oneof![
        prop::collection::vec((prop::sample::select(keys.to_vec()), value), 0..10).prop_map(
            |pairs| pairs
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect::<String>()
        ),
        ".{0,200}",
    ]
}

/// JUnit-shaped XML: tags of the format, attributes with hostile values, text, entities,
/// broken closing tags, nested to any depth.
fn junit_xml() -> impl Strategy<Value = String> {
    let tags = prop::sample::select(vec![
        "testsuites",
        "testsuite",
        "testcase",
        "failure",
        "error",
        "skipped",
        "properties",
        "system-out",
        "flakyFailure",
    ]);
    let token = prop_oneof![
        (tags.clone(), hostile_string()).prop_map(|(t, a)| format!(
            "<{t} name=\"{}\" message='{}'>",
            a.replace(['"', '<', '&'], ""),
            a.replace(['\'', '<', '&'], "")
        )),
        tags.clone().prop_map(|t| format!("</{t}>")),
        tags.prop_map(|t| format!("<{t}/>")),
        Just("&amp;&#x1F600;&bogus;".to_string()),
        Just("<![CDATA[ ]]> <!-- c --> <?xml version='1.0'?>".to_string()),
        hostile_string(),
    ];
    prop_oneof![
        prop::collection::vec(token, 0..40).prop_map(|t| t.concat()),
        (1usize..5000).prop_map(|n| format!(
            "{}<testcase name='x'/>{}",
            "<testsuite>".repeat(n),
            "</testsuite>".repeat(n)
        )),
        ".{0,200}",
    ]
}

/// `go test -json` lines: events with any action, package, test and output, mixed with
/// raw lines and JSON of the wrong shape.
fn go_stream() -> impl Strategy<Value = String> {
    let action = prop::sample::select(vec![
        "run", "pass", "fail", "skip", "output", "start", "pause", "cont", "bench", "bogus",
    ]);
    let line = prop_oneof![
        (
            action,
            hostile_string(),
            prop::option::of(hostile_string()),
            prop::option::of(hostile_string())
        )
            .prop_map(|(a, p, t, o)| {
                json!({"Action": a, "Package": p, "Test": t, "Output": o}).to_string()
            }),
        json_value().prop_map(|v| v.to_string()),
        ".{0,80}",
    ];
    prop::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

/// Jest `--json` reports: the report's shape with values of any type in any field.
fn jest_json() -> impl Strategy<Value = String> {
    let assertion = (
        prop::collection::vec(hostile_string(), 0..3),
        hostile_string(),
        prop::sample::select(vec!["passed", "failed", "pending", "todo", ""]),
        prop::collection::vec(hostile_string(), 0..3),
    )
        .prop_map(|(ancestors, title, status, messages)| {
            json!({"ancestorTitles": ancestors, "title": title, "status": status, "failureMessages": messages})
        });
    let file = (
        hostile_string(),
        prop::sample::select(vec!["passed", "failed"]),
        hostile_string(),
        prop::collection::vec(assertion, 0..5),
    )
        .prop_map(|(name, status, message, assertions)| {
            json!({"name": name, "status": status, "message": message, "assertionResults": assertions})
        });
    prop_oneof![
        prop::collection::vec(file, 0..5)
            .prop_map(|files| json!({ "testResults": files }).to_string()),
        json_value().prop_map(|v| v.to_string()),
        (1usize..5000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        ".{0,200}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn job_input_never_panics(input in prop_oneof![job_input(), json_value()]) {
        if let Ok(job) = JobInput::from_value(input) {
            let _ = job.validate(RepoPolicy { allow_local: false });
        }
    }

    #[test]
    fn repository_config_never_panics(text in yaml_text()) {
        let _ = FileConfig::parse(&text);
    }

    #[test]
    fn junit_parser_never_panics(xml in junit_xml()) {
        if let Ok(results) = junit::parse(&xml) {
            prop_assert!(results.iter().all(|r| r.message.as_ref().is_none_or(|m| !m.contains('\n'))));
        }
    }

    #[test]
    fn go_test_parser_never_panics(stream in go_stream()) {
        let mut printed = 0usize;
        let _ = go_test::parse(stream.as_bytes(), |text| printed += text.len());
    }

    #[test]
    fn jest_parser_never_panics(json in jest_json()) {
        let _ = jest::parse(&json, Path::new("/work/checkout"));
    }
}

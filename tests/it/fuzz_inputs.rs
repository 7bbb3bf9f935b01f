//! Property tests (issue 12) for everything a job submitter, a repository or a test run
//! controls: the job input (JSON), `.flaky-detector.yml`, and the three report parsers
//! (JUnit XML, `go test -json`, Jest JSON); and (issue 21) what a job or a shared volume
//! can put where the detector reads: pending history entries, files in a history folder,
//! and a `.git` file. The property is the same for each: any input
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
use flaky_detector::history::Store;
use flaky_detector::history::pending::read_entry;
use flaky_detector::workspace::linked;
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

/// A pending history entry: raw bytes, any JSON, or one close to what `save_pending` writes.
fn pending_entry() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), hostile_string(), json_value()).prop_map(|(at, store, summary)| {
            json!({"recorded_at": at, "store": store, "summary": summary})
                .to_string()
                .into_bytes()
        }),
        hostile_string().prop_map(|store| {
            json!({"recorded_at": "2026-01-01T00:00:00Z", "store": store,
                   "summary": {"total_runs": 1, "parallelism": 1, "framework": "unknown",
                               "failures": 0, "repro_rate": 0.0, "results": []}})
            .to_string()
            .into_bytes()
        }),
    ]
}

/// A file in a history folder: raw bytes, or SQLite's header followed by anything.
fn history_file() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 0..4096).prop_map(|tail| {
            let mut bytes = b"SQLite format 3\0".to_vec();
            bytes.extend(tail);
            bytes
        }),
    ]
}

/// The text of a `.git` file: `gitdir:` lines naming places in and out of the tree.
fn git_file() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        hostile_string().prop_map(|p| format!("gitdir: {p}\n")),
        prop_oneof![
            Just("/"),
            Just("/dev/zero"),
            Just("/proc/self"),
            Just(".."),
            Just("."),
            Just("../../.."),
            Just("sub/.git"),
        ]
        .prop_map(|p| format!("gitdir: {p}\n")),
    ]
}

/// Every file of `dir`, names and bytes.
fn folder_bytes(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("listed")
        .filter_map(Result::ok)
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    files.sort();
    files
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pending_entry_never_panics_and_a_retry_never_blocks_on_it(bytes in pending_entry()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let pending = dir.path().join("pending");
        std::fs::create_dir_all(&pending).expect("mkdir");
        let entry = pending.join("20260101T000000-x.json");
        std::fs::write(&entry, &bytes).expect("written");
        let _ = read_entry(&entry);
        let mut store = Store::open(&dir.path().join("h.db")).expect("opens");
        store.keep_failed_writes_in(pending);
        let retried = store.retry_pending();
        prop_assert_eq!(retried.left, 0, "{:?}", retried);
    }

    #[test]
    fn reading_a_history_folder_never_panics_or_writes(bytes in history_file()) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("x.db"), &bytes).expect("written");
        let before = folder_bytes(dir.path());
        if let Ok(store) = Store::open_folder(dir.path(), None) {
            let _ = store.count_jobs(&flaky_detector::history::JobFilter::default());
        }
        prop_assert_eq!(folder_bytes(dir.path()), before);
    }

    #[test]
    fn a_git_file_never_panics_and_is_never_taken_for_a_plain_directory(text in git_file()) {
        let tree = tempfile::tempdir().expect("temp dir");
        std::fs::write(tree.path().join(".git"), &text).expect("written");
        let located = linked::locate(tree.path());
        prop_assert!(!matches!(located, Ok(linked::GitDir::Inside | linked::GitDir::Absent)));
        prop_assert!(linked::is_elsewhere(tree.path()));
    }

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

//! Bad input, table-driven, through the real binary (RunPod's local test mode): every case is
//! answered with its own one-line error and exit status 1, and none panics.

use crate::support;

use serde_json::{Value, json};
use support::{Sandbox, path_str, project};

struct Case {
    name: &'static str,
    input: Value,
    expected: &'static str,
}

fn cases(local: &str, bad_yaml: &str, bad_value: &str) -> Vec<Case> {
    let base = |extra: Value| {
        let mut input = json!({"repo": local, "test_command": "true"});
        for (key, value) in extra.as_object().expect("object").iter() {
            input[key] = value.clone();
        }
        input
    };
    vec![
        Case {
            name: "file url",
            input: base(json!({"repo": "file:///etc"})),
            expected: "`repo` must not be a file:// URL",
        },
        Case {
            name: "ext transport",
            input: base(json!({"repo": "ext::sh"})),
            expected: "git transport helper such as `ext::`",
        },
        Case {
            name: "option injection",
            input: base(json!({"repo": "--upload-pack=touch"})),
            expected: "must not start with `-`",
        },
        Case {
            name: "whitespace",
            input: base(json!({"repo": "https://github.com/a/b c"})),
            expected: "must not contain whitespace or control characters",
        },
        Case {
            name: "control character",
            input: base(json!({"repo": "https://github.com/a/\u{7}b"})),
            expected: "whitespace or control characters, got `https://github.com/a/\\u{7}b`",
        },
        Case {
            name: "plain http",
            input: base(json!({"repo": "http://example.com/a.git"})),
            expected: "must be an https:// or git@host:path URL",
        },
        Case {
            name: "scp without host",
            input: base(json!({"repo": "git@:a/b.git"})),
            expected: "has an invalid host",
        },
        Case {
            name: "empty repo",
            input: base(json!({"repo": ""})),
            expected: "`repo` is empty",
        },
        Case {
            name: "missing directory",
            input: base(json!({"repo": "/no/such/flaky/dir"})),
            expected: "no such directory exists",
        },
        Case {
            name: "zero runs",
            input: base(json!({"runs": 0})),
            expected: "`runs` must be between 1 and 1000, got 0",
        },
        Case {
            name: "too many runs",
            input: base(json!({"runs": 1001})),
            expected: "`runs` must be between 1 and 1000, got 1001",
        },
        Case {
            name: "zero parallelism",
            input: base(json!({"parallelism": 0})),
            expected: "`parallelism` must be between 1 and 50, got 0",
        },
        Case {
            name: "too much parallelism",
            input: base(json!({"parallelism": 51})),
            expected: "`parallelism` must be between 1 and 50, got 51",
        },
        Case {
            name: "negative runs",
            input: base(json!({"runs": -5})),
            expected: "field `runs`: invalid value: integer `-5`",
        },
        Case {
            name: "unknown field",
            input: base(json!({"parallelsim": 4})),
            expected: "unknown field `parallelsim`",
        },
        Case {
            name: "wrong type",
            input: base(json!({"runs": "ten"})),
            expected: "field `runs`: invalid type: string \"ten\"",
        },
        Case {
            name: "negative timeout",
            input: base(json!({"timeout": -1})),
            expected: "`timeout` must be more than 0",
        },
        Case {
            name: "empty seeds",
            input: base(json!({"seeds": []})),
            expected: "`seeds` must not be empty",
        },
        Case {
            name: "bad env name",
            input: base(json!({"env": {"1BAD": "x"}})),
            expected: "`env` name `1BAD`",
        },
        Case {
            name: "unbalanced quote",
            input: base(json!({"test_command": "pytest 'tests"})),
            expected: "`test_command` has an unbalanced quote",
        },
        Case {
            name: "ref as option",
            input: base(json!({"ref": "--force"})),
            expected: "`ref` must not start with `-`",
        },
        Case {
            name: "bad commit sha",
            input: base(json!({"commit_sha": "not-a-sha"})),
            expected: "`commit_sha` must be 7 to 40 hexadecimal characters",
        },
        Case {
            name: "unknown framework",
            input: base(json!({"framework": "cobol"})),
            expected: "field `framework`: unknown variant `cobol`",
        },
        Case {
            name: "input is not an object",
            input: json!("pytest"),
            expected: "the input must be a JSON object",
        },
        Case {
            name: "missing repo",
            input: json!({"test_command": "true"}),
            expected: "missing field `repo`",
        },
        Case {
            name: "malformed yaml in the repo",
            input: base(json!({"repo": bad_yaml})),
            expected: ".flaky-detector.yml is not valid YAML",
        },
        Case {
            name: "invalid yaml value",
            input: base(json!({"repo": bad_value})),
            expected: ".flaky-detector.yml: `parallelism`: must be between 1 and 50, got 99",
        },
        Case {
            name: "no test command anywhere",
            input: json!({"repo": local}),
            expected: "no test command: give `test_command`",
        },
        Case {
            name: "missing program",
            input: base(json!({"test_command": "no-such-program-xyz --flag"})),
            expected: "command `no-such-program-xyz` was not found",
        },
        Case {
            name: "unreachable repository",
            input: base(json!({"repo": "https://127.0.0.1:9/nobody/nothing.git"})),
            expected: "cannot clone https://127.0.0.1:9/nobody/nothing.git at default branch",
        },
    ]
}

#[test]
fn every_bad_input_gets_its_own_one_line_error() {
    let local = project(&[("README", "fixture\n")]);
    let bad_yaml = project(&[(".flaky-detector.yml", "runs: [1, 2\n")]);
    let bad_value = project(&[(".flaky-detector.yml", "parallelism: 99\n")]);
    let sandbox = Sandbox::new();
    let cases = cases(
        path_str(local.path()),
        path_str(bad_yaml.path()),
        path_str(bad_value.path()),
    );
    assert!(cases.len() >= 20);
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        let output = sandbox
            .command()
            .arg("--test_input")
            .arg(json!({ "input": case.input }).to_string())
            .output()
            .expect("the binary starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked: {stderr}",
            case.name
        );
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", case.name);
        let result: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON: {e}", case.name));
        let error = result["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no error in {result}", case.name));
        assert!(
            error.contains(case.expected),
            "{}: expected `{}` in `{error}`",
            case.name,
            case.expected
        );
        assert!(!error.contains('\n'), "{}: error spans lines", case.name);
        assert!(result.get("output").is_none(), "{}: has output", case.name);
        assert!(
            seen.insert(error.to_string()),
            "{}: same error as another case",
            case.name
        );
    }
}

#[test]
fn the_cli_refuses_bad_flags_with_one_line() {
    let sandbox = Sandbox::new();
    let (output, summary) = sandbox.run(&["--repo", "ext::sh -c id", "-c", "true"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(summary.is_none());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: invalid job input: `repo`"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_a_repository_url_are_never_shown() {
    let sandbox = Sandbox::new();
    for repo in [
        // Accepted (any case scheme is https), then the clone fails: the error names the URL.
        "HTTPS://user:pa55word@127.0.0.1:9/a/b.git",
        "Https://user:pa55word@127.0.0.1:9/a/b.git",
        // Refused: the refusal quotes the URL.
        "http://user:pa55word@example.com/a.git",
        "ssh://git:pa55word@example.com/a.git",
        "-https://user:pa55word@example.com/a.git",
        "ext::https://user:pa55word@example.com/a.git",
    ] {
        let output = sandbox
            .command()
            .arg("--test_input")
            .arg(json!({"input": {"repo": repo, "test_command": "true"}}).to_string())
            .output()
            .expect("the binary starts");
        assert_eq!(output.status.code(), Some(1), "{repo}: {output:?}");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(shown.contains("error"), "{repo}: {shown}");
        assert!(!shown.contains("pa55word"), "{repo}: {shown}");
    }
}

//! Issue 27: an install that fails stops the job after one probe run, with verdict
//! `install-failed`, and the summary names the step, the package, the installer's reason and
//! the way out; a pytest usage error is a command the user can fix, named by its `error:`
//! line. Real installs against the real registries (PyPI, npm) and a Go module that cannot
//! be fetched; then every output a user reads of these error paths is searched for Rust debug
//! formatting.

use crate::support::pertest as pertest_support;

use std::path::Path;

use flaky_detector::analysis::Verdict;
use flaky_detector::analysis::command_failure::FailureKind;
use flaky_detector::framework::InstallStatus;
use flaky_detector::report::markdown::{Body, DISCORD, GITHUB, Level, SLACK, render};
use flaky_detector::summary::{Classification, Summary};
use pertest_support::{require_tool, run_job};
use serde_json::{Value, json};

/// Writes `files` (path, text) under a new temp dir and returns it.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write a fixture file");
    }
    dir
}

/// Ten runs asked for, so a job that spends only its probe shows it.
fn input(dir: &Path, command: &str) -> Value {
    json!({
        "repo": dir.display().to_string(),
        "test_command": command,
        "runs": 10,
        "parallelism": 2,
        "confirm": false,
    })
}

fn human(summary: &Summary) -> String {
    flaky_detector::cli::human::render(summary)
}

/// What a user reads of a summary: the terminal text, the JSON without the programs' own
/// output (run streams and the install's tail are theirs, not ours), and each channel's
/// Markdown.
fn outputs(summary: &Summary) -> Vec<(String, String)> {
    let mut json = serde_json::to_value(summary).expect("JSON");
    if let Some(results) = json["results"].as_array_mut() {
        for result in results {
            result["stdout"] = Value::Null;
            result["stderr"] = Value::Null;
        }
    }
    json["install"]["output_tail"] = Value::Null;
    let body = Body::of(summary);
    vec![
        ("human".into(), human(summary)),
        ("json".into(), json.to_string()),
        ("github".into(), render(&body, GITHUB, Level::Full)),
        ("slack".into(), render(&body, SLACK, Level::Full)),
        ("discord".into(), render(&body, DISCORD, Level::Full)),
    ]
}

/// Rust's `{:?}` shapes: `Failed { exit_code: 1 }`, `Some(…)`, `Os { code: 2, … }`.
fn debug_shapes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in [
        "Some(",
        "Ok(",
        "Err(",
        "Failed {",
        "Signalled {",
        "Os { code",
    ] {
        if text.contains(marker) {
            found.push(marker.to_string());
        }
    }
    // `{ field: …`: a struct printed with `{:?}`. A JSON object has `{"field":`.
    for (at, _) in text.match_indices("{ ") {
        let word: String = text[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() && text[at + 2 + word.len()..].starts_with(": ") {
            found.push(format!("{{ {word}: "));
        }
    }
    found
}

fn assert_no_debug_shapes(summary: &Summary) {
    for (what, text) in outputs(summary) {
        let found = debug_shapes(&text);
        assert!(found.is_empty(), "{what} shows {found:?}:\n{text}");
    }
}

/// The checks every stopped install shares: verdict, one probe run, no severity, seeds or
/// reproduce line, and the package and the way out in every output.
fn assert_stopped_naming(summary: &Summary, package: &str, key: &str) {
    let text = human(summary);
    assert_eq!(summary.verdict, Verdict::InstallFailed, "{text}");
    assert_eq!(summary.install.status, InstallStatus::Failed, "{text}");
    assert_eq!(summary.total_runs, 1, "one probe run at most: {text}");
    assert_eq!(summary.runs_requested, 10, "{text}");
    assert_eq!(summary.severity.to_string(), "none", "{text}");
    assert!(summary.reproduce.is_none(), "{text}");
    assert!(summary.failing_seeds.is_empty(), "{text}");
    assert_eq!(summary.install.package.as_deref(), Some(package), "{text}");
    let error = summary.first_error.as_deref().expect("an error line");
    assert!(error.contains(package), "{error}");
    assert!(summary.install.toolchain.is_some(), "{text}");
    assert!(text.starts_with("INSTALL FAILED"), "{text}");
    assert!(!text.contains("reproduce:"), "{text}");
    for (what, output) in outputs(summary) {
        assert!(
            output.contains(package),
            "{what} does not name {package}:\n{output}"
        );
        assert!(
            output.contains(key),
            "{what} does not name `{key}`:\n{output}"
        );
    }
    assert_no_debug_shapes(summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_a_pip_pin_with_no_such_version_stops_the_job_naming_it() {
    require_tool("python3", "apt-get install -y python3 python3-pip");
    let dir = repo(&[
        ("requirements.txt", "pyjokes==0.0.999\n"),
        (
            "tests/test_jokes.py",
            "import pyjokes\n\ndef test_joke():\n    assert pyjokes.get_joke()\n",
        ),
    ]);
    let summary = run_job(input(
        dir.path(),
        "python3 -m pytest -q -p no:cacheprovider tests",
    ))
    .await;
    let text = human(&summary);
    assert_stopped_naming(&summary, "pyjokes==0.0.999", "install_command");
    let reason = summary.install.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with(
            "could not find a version that satisfies the requirement pyjokes==0.0.999"
        ),
        "{reason}"
    );
    assert!(
        summary
            .install
            .failed_step
            .as_deref()
            .is_some_and(|s| s.starts_with("pip install -r requirements.txt")),
        "{text}"
    );
    assert!(
        summary
            .install
            .toolchain
            .as_deref()
            .is_some_and(|t| t.starts_with("Python 3")),
        "{text}"
    );
    assert!(
        text.contains("way out:") && text.contains("`python`"),
        "{text}"
    );
    // The probe met the missing module; its line is kept beside the install's.
    assert!(
        summary
            .install
            .probe_error
            .as_deref()
            .is_some_and(|e| e.contains("No module named 'pyjokes'")),
        "{text}"
    );
    assert_eq!(
        summary.classification,
        Some(Classification::MissingDependency),
        "{text}"
    );
}

#[cfg_attr(not(has_node), ignore = "needs npm (apt-get install nodejs npm)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_an_npm_package_missing_from_the_registry_stops_the_job_naming_it() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let missing = "@flaky-detector-absent/no-such-package-zz9";
    let dir = repo(&[
        (
            "package.json",
            &format!(
                "{{\"name\": \"t\", \"version\": \"1.0.0\", \"scripts\": {{\"test\": \"node test.js\"}},\n\
                 \"devDependencies\": {{\"mocha\": \"^10.0.0\", \"{missing}\": \"^1.0.0\"}}}}\n"
            ),
        ),
        ("test.js", &format!("require('{missing}');\n")),
    ]);
    let summary = run_job(input(dir.path(), "node test.js")).await;
    let text = human(&summary);
    assert_stopped_naming(&summary, &format!("{missing}@^1.0.0"), "package.json");
    assert_eq!(
        summary.install.reason.as_deref(),
        Some("not found in the registry (404)"),
        "{text}"
    );
    assert!(
        summary
            .install
            .toolchain
            .as_deref()
            .is_some_and(|t| t.starts_with("node v") && t.contains("npm ")),
        "{text}"
    );
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_a_go_module_that_cannot_be_fetched_stops_the_job_naming_it() {
    require_tool("go", "apt-get install -y golang");
    let dir = repo(&[
        (
            "go.mod",
            "module example.com/m\n\ngo 1.19\n\nrequire example.invalid/nosuch v1.0.0\n",
        ),
        (
            "m_test.go",
            "package m\n\nimport (\n\t\"testing\"\n\n\tnosuch \"example.invalid/nosuch\"\n)\n\n\
func TestUses(t *testing.T) { nosuch.Use() }\n",
        ),
    ]);
    let summary = run_job(input(dir.path(), "go test ./...")).await;
    let text = human(&summary);
    assert_stopped_naming(&summary, "example.invalid/nosuch@v1.0.0", "go.mod");
    assert_eq!(
        summary.install.failed_step.as_deref(),
        Some("go mod download"),
        "{text}"
    );
    assert!(
        summary
            .install
            .toolchain
            .as_deref()
            .is_some_and(|t| t.starts_with("go version go")),
        "{text}"
    );
}

/// Issue 27: `addopts = --cov=calc` without pytest-cov made every run exit 4 and the
/// summary said "a real failure" with `error: rootdir: <checkout>`. `-p no:pytest_cov`
/// keeps the option unknown whether or not pytest-cov is installed here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_a_pytest_usage_error_is_named_by_its_error_line_not_a_real_bug() {
    require_tool(
        "python3",
        "apt-get install -y python3 && pip install pytest",
    );
    let dir = repo(&[
        ("calc.py", "def add(a, b):\n    return a + b\n"),
        (
            "tests/test_calc.py",
            "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        ),
        (
            "pytest.ini",
            "[pytest]\naddopts = -p no:pytest_cov --cov=calc\npythonpath = .\n",
        ),
    ]);
    let mut job = input(dir.path(), "python3 -m pytest -q -p no:cacheprovider");
    job["runs"] = json!(3);
    let summary = run_job(job).await;
    let text = human(&summary);
    assert_eq!(summary.verdict, Verdict::AlwaysFailing, "{text}");
    assert_eq!(
        summary.classification,
        Some(Classification::UsageError),
        "{text}"
    );
    let error = summary.first_error.as_deref().expect("an error line");
    assert!(
        error.starts_with("error: unrecognized arguments: --cov=calc"),
        "{error}"
    );
    assert!(!text.contains("rootdir"), "{text}");
    assert!(!text.contains("a real failure"), "{text}");
    assert!(text.contains("before any test ran (usage-error)"), "{text}");
    let body = render(&Body::of(&summary), GITHUB, Level::Full);
    assert!(!body.contains("A real failure"), "{body}");
    assert_no_debug_shapes(&summary);
    // Not a command failure beside passing tests: no test ran.
    assert!(
        summary
            .command_failure
            .as_ref()
            .is_none_or(|f| f.kind == FailureKind::UsageError),
        "{text}"
    );
}

/// The other error paths a user reads: a command that fails without a word, one that is
/// not installed, a repository file with a bad value; each summary or one-line error is
/// free of debug formatting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_no_error_path_shows_rust_debug_formatting() {
    let silent = repo(&[("README", "x\n")]);
    let summary = run_job(input(silent.path(), "false")).await;
    assert_eq!(summary.verdict, Verdict::AlwaysFailing);
    assert_eq!(
        summary.first_error.as_deref(),
        Some("the command exited with status 1"),
        "{}",
        human(&summary)
    );
    assert_no_debug_shapes(&summary);

    let killed = repo(&[("README", "x\n")]);
    let summary = run_job(input(killed.path(), "sh -c 'kill -9 $$'")).await;
    assert_no_debug_shapes(&summary);

    // Jobs that cannot run: the one line the CLI prints.
    for (files, command) in [
        (
            vec![("README", "x\n")],
            "no-such-program-for-flaky-detector",
        ),
        (
            vec![(".flaky-detector.yml", "extra_packages: [--index-url=x]\n")],
            "true",
        ),
        (
            vec![(".flaky-detector.yml", "python: 'python3 -S'\n")],
            "true",
        ),
    ] {
        let dir = repo(&files);
        let job = flaky_detector::job::JobInput::from_value(input(dir.path(), command))
            .and_then(|i| i.validate(flaky_detector::job::RepoPolicy { allow_local: true }))
            .expect("a valid job input");
        let scratch = tempfile::tempdir().expect("scratch");
        let (events, _receiver) = flaky_detector::events::Events::channel();
        let result = flaky_detector::detect(
            job,
            &crate::support::jobs::deps(scratch.path(), None),
            &events,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
        match result {
            Ok(summary) => assert_no_debug_shapes(&summary),
            Err(error) => {
                let line = flaky_detector::errors::one_line(&error);
                let found = debug_shapes(&line);
                assert!(found.is_empty(), "{command}: {found:?} in {line}");
            }
        }
    }
}

/// The way out works: `extra_packages` installs beside the dependency files, and
/// `install_command` replaces the install (its `pip` is the virtualenv's), each from PyPI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_27_the_install_keys_of_the_way_out_install_what_the_tests_import() {
    require_tool("python3", "apt-get install -y python3 python3-pip");
    let test = (
        "tests/test_jokes.py",
        "import pyjokes\n\ndef test_joke():\n    assert pyjokes.get_joke()\n",
    );
    for config in [
        "extra_packages: [pyjokes]\n",
        "install_command: pip install --disable-pip-version-check pyjokes\n",
    ] {
        let dir = repo(&[
            test,
            ("requirements.txt", "\n"),
            (".flaky-detector.yml", config),
        ]);
        let mut job = input(dir.path(), "python3 -m pytest -q -p no:cacheprovider tests");
        job["runs"] = json!(2);
        let summary = run_job(job).await;
        let text = human(&summary);
        assert_eq!(
            summary.install.status,
            InstallStatus::Installed,
            "{config}: {text}"
        );
        assert_eq!(summary.verdict, Verdict::Stable, "{config}: {text}");
        assert_eq!(summary.total_runs, 2, "{config}: {text}");
    }
}

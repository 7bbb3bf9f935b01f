//! `go test -json` event streams ([`parse`]) into [`TestResult`]s, line by line, so a report
//! of any size is read in constant memory. The events' `Output` text is handed back as it
//! comes, which is exactly what `go test -v` would have printed: the run's readable output.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Deserialize;

use crate::framework::results::test_result::{MESSAGE_LIMIT, TestResult, TestStatus, cut};

/// Why a `go test -json` stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GoTestError {
    #[error("cannot read the go test report")]
    Read(#[source] std::io::Error),
}

/// One line of `go test -json` (`go doc test2json`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TestEvent {
    action: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    output: Option<String>,
}

/// What is known about one test (or, with no test name, one package) so far.
#[derive(Debug, Default)]
struct Entry {
    status: Option<TestStatus>,
    /// The last line the test printed that is not `go test`'s own framing; `t.Fatal` and
    /// `t.Error` print there, so it is the best one-line reason.
    last_line: Option<String>,
    /// For packages: the first line printed (a build failure or a panic says it there).
    first_line: Option<String>,
}

/// Reads the stream to its end. `output` receives the text of every output event, and any
/// line that is not JSON (old toolchains print build errors raw). Tests that started and
/// never ended (the run was killed, or the test binary crashed) count as failed; a package
/// that failed with no failed test (a build error, a panic in `init`) becomes one failed
/// case named after the package. A parent test whose subtest failed leaves the failure to
/// the subtest.
pub fn parse<R: BufRead>(
    reader: R,
    mut output: impl FnMut(&str),
) -> Result<Vec<TestResult>, GoTestError> {
    let mut order: Vec<(String, Option<String>)> = Vec::new();
    let mut entries: HashMap<(String, Option<String>), Entry> = HashMap::new();
    for line in reader.lines() {
        let line = line.map_err(GoTestError::Read)?;
        let Ok(event) = serde_json::from_str::<TestEvent>(&line) else {
            output(&line);
            output("\n");
            continue;
        };
        let key = (event.package.clone(), event.test.clone());
        let entry = entries.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Entry::default()
        });
        match event.action.as_str() {
            "output" => {
                let text = event.output.as_deref().unwrap_or("");
                output(text);
                let trimmed = text.trim();
                if !trimmed.is_empty() && !is_framing(trimmed) {
                    entry.last_line = Some(cut(trimmed, MESSAGE_LIMIT));
                    entry
                        .first_line
                        .get_or_insert_with(|| cut(trimmed, MESSAGE_LIMIT));
                }
            }
            "pass" => entry.status = Some(TestStatus::Passed),
            "fail" => entry.status = Some(TestStatus::Failed),
            "skip" => entry.status = Some(TestStatus::Skipped),
            _ => {}
        }
    }
    Ok(results(&order, &entries))
}

fn results(
    order: &[(String, Option<String>)],
    entries: &HashMap<(String, Option<String>), Entry>,
) -> Vec<TestResult> {
    let mut results = Vec::new();
    // Tests first: a package's own entry comes before its tests in the stream, and whether
    // it needs a case of its own depends on them.
    let tests = order.iter().filter(|(_, test)| test.is_some());
    let packages = order.iter().filter(|(_, test)| test.is_none());
    for key in tests.chain(packages) {
        let entry = &entries[key];
        let (package, test) = key;
        match test {
            Some(test) => {
                let status = entry.status.unwrap_or(TestStatus::Failed);
                let message = match (status, entry.status) {
                    (TestStatus::Failed, None) => Some(
                        "did not finish (the run was stopped or the test binary crashed)".into(),
                    ),
                    (TestStatus::Failed, Some(_)) => entry.last_line.clone(),
                    _ => None,
                };
                results.push(TestResult {
                    classname: None,
                    duration_ms: None,
                    name: format!("{package}::{test}"),
                    status,
                    message,
                });
            }
            None => {
                let package_failed = entry.status == Some(TestStatus::Failed);
                let test_failed = results.iter().any(|r| {
                    r.status == TestStatus::Failed
                        && r.name
                            .strip_prefix(package.as_str())
                            .is_some_and(|rest| rest.starts_with("::"))
                });
                if package_failed && !test_failed {
                    results.push(TestResult {
                        classname: None,
                        duration_ms: None,
                        name: package.clone(),
                        status: TestStatus::Failed,
                        message: entry.first_line.clone(),
                    });
                }
            }
        }
    }
    attribute_to_subtests(&mut results);
    results
}

/// A parent test fails whenever one of its subtests fails; counting both would report one
/// flake twice. Such a parent's failure is left to its subtests (the parent counts as
/// skipped in that run); a parent that failed with no failed subtest keeps its failure.
fn attribute_to_subtests(results: &mut [TestResult]) {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.status == TestStatus::Failed)
        .map(|r| r.name.clone())
        .collect();
    for result in results.iter_mut() {
        if result.status != TestStatus::Failed {
            continue;
        }
        let prefix = format!("{}/", result.name);
        if failed.iter().any(|name| name.starts_with(&prefix)) {
            result.status = TestStatus::Skipped;
            result.message = None;
        }
    }
}

/// Lines `go test` prints around a test's own output.
fn is_framing(line: &str) -> bool {
    [
        "=== RUN",
        "=== PAUSE",
        "=== CONT",
        "=== NAME",
        "--- PASS",
        "--- FAIL",
        "--- SKIP",
    ]
    .iter()
    .any(|prefix| line.starts_with(prefix))
        || line == "PASS"
        || line == "FAIL"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_stream_gives_tests_subtests_and_messages() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/junit/go-test.jsonl"
        );
        let file = std::fs::File::open(path).expect("golden file exists");
        let mut text = String::new();
        let results =
            parse(std::io::BufReader::new(file), |t| text.push_str(t)).expect("golden file parses");
        let rows: Vec<(&str, TestStatus, Option<&str>)> = results
            .iter()
            .map(|r| (r.name.as_str(), r.status, r.message.as_deref()))
            .collect();
        use TestStatus::*;
        assert_eq!(
            rows,
            vec![
                ("example.com/sample/other::TestOther", Passed, None),
                ("example.com/sample::TestSkipped", Skipped, None),
                ("example.com/sample::TestGroup", Skipped, None),
                ("example.com/sample::TestGroup/ok", Passed, None),
                (
                    "example.com/sample::TestGroup/bad_case",
                    Failed,
                    Some("sample_test.go:22: sub failed")
                ),
                ("example.com/sample::TestAdds", Passed, None),
                (
                    "example.com/sample::TestFails",
                    Failed,
                    Some("sample_test.go:13: sum is off: got 3")
                ),
            ]
        );
        assert!(text.contains("--- FAIL: TestFails (0.00s)\n"), "{text}");
        assert!(!text.contains("\"Action\""), "{text}");
    }

    #[test]
    fn a_killed_run_fails_its_unfinished_test_and_a_build_failure_names_the_package() {
        let stream = concat!(
            "{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"TestHang\"}\n",
            "{\"Action\":\"output\",\"Package\":\"q\",\"Output\":\"FAIL\\tq [build failed]\\n\"}\n",
            "{\"Action\":\"fail\",\"Package\":\"q\"}\n",
            "# q\n",
        );
        let mut text = String::new();
        let results = parse(stream.as_bytes(), |t| text.push_str(t)).expect("parses");
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].name, "p::TestHang");
        assert_eq!(results[0].status, TestStatus::Failed);
        assert_eq!(results[1].name, "q");
        assert_eq!(
            results[1].message.as_deref(),
            Some("FAIL\tq [build failed]")
        );
        assert!(text.ends_with("# q\n"));
    }
}

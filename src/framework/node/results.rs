//! Jest's `--json` report ([`parse`]) into [`TestResult`]s. Jest writes absolute file paths;
//! they are made relative to the run's working directory so a test keeps its name across
//! runs that each work in their own copy of the checkout.

use std::path::Path;

use serde::Deserialize;

use crate::framework::results::test_result::{TestResult, TestStatus, first_line};

/// Why a Jest report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JestError {
    #[error("not a Jest JSON report")]
    Json(#[source] serde_json::Error),
}

/// The part of Jest's `--json` output read here: one entry per test file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JestReport {
    #[serde(default)]
    test_results: Vec<FileResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileResult {
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    assertion_results: Vec<Assertion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assertion {
    #[serde(default)]
    ancestor_titles: Vec<String>,
    title: String,
    status: String,
    #[serde(default)]
    failure_messages: Vec<String>,
}

/// Every test of the report. A test file that failed without running any test (a syntax
/// error, a failing import) becomes one failed case named after the file, so the failure is
/// still attributed to something.
pub fn parse(json: &str, cwd: &Path) -> Result<Vec<TestResult>, JestError> {
    let report: JestReport = serde_json::from_str(json).map_err(JestError::Json)?;
    let mut results = Vec::new();
    for file in &report.test_results {
        let path = relative(&file.name, cwd);
        if file.assertion_results.is_empty() && file.status == "failed" {
            results.push(TestResult {
                classname: None,
                duration_ms: None,
                name: path.clone(),
                status: TestStatus::Failed,
                message: suite_message(&file.message),
            });
        }
        for test in &file.assertion_results {
            let mut titles = test.ancestor_titles.clone();
            titles.push(test.title.clone());
            let status = match test.status.as_str() {
                "passed" => TestStatus::Passed,
                "failed" => TestStatus::Failed,
                // pending, skipped, todo, disabled, focused-out.
                _ => TestStatus::Skipped,
            };
            let message = (status == TestStatus::Failed)
                .then(|| test.failure_messages.iter().find_map(|m| first_line(m)))
                .flatten();
            results.push(TestResult {
                classname: None,
                duration_ms: None,
                name: format!("{path}::{}", titles.join(" › ")),
                status,
                message,
            });
        }
    }
    Ok(results)
}

/// `name` relative to `cwd` when it lies inside it, else as given.
fn relative(name: &str, cwd: &Path) -> String {
    Path::new(name)
        .strip_prefix(cwd)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// A suite's message starts with a `● Test suite failed to run` header; the line after it
/// says why.
fn suite_message(message: &str) -> Option<String> {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('●'))
        .find_map(first_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_report_names_tests_by_relative_file_and_titles() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/junit/jest.json"
        );
        let json = std::fs::read_to_string(path).expect("golden file exists");
        let results = parse(&json, Path::new("/work/run-7")).expect("golden file parses");
        let rows: Vec<(&str, TestStatus, Option<&str>)> = results
            .iter()
            .map(|r| (r.name.as_str(), r.status, r.message.as_deref()))
            .collect();
        use TestStatus::*;
        assert_eq!(
            rows,
            vec![
                ("jt/sample.test.js::math › adds", Passed, None),
                (
                    "jt/sample.test.js::math › fails",
                    Failed,
                    Some("Error: expect(received).toBe(expected) // Object.is equality")
                ),
                ("jt/sample.test.js::math › skipped one", Skipped, None),
                (
                    "jt/sample.test.js::math › nested › throws",
                    Failed,
                    Some("Error: boom")
                ),
                ("jt/sample.test.js::top level", Passed, None),
                (
                    "jt/broken.test.js",
                    Failed,
                    Some("Jest encountered an unexpected token")
                ),
            ]
        );
    }

    #[test]
    fn a_json_document_of_another_shape_is_an_error() {
        assert!(parse("[1, 2]", Path::new("/")).is_err());
        assert!(parse("{\"testResults\": [{}]}", Path::new("/")).is_err());
    }
}

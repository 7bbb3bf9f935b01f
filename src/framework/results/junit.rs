//! JUnit/xUnit XML reports ([`parse`]) into [`TestResult`]s, through quick-xml's serde
//! support. Tolerant by design: the root may be `<testsuites>` or a bare `<testsuite>`
//! (Mocha's xunit, Maven Surefire), suites may nest, and elements we do not use
//! (`properties`, `system-out`, nextest's `flakyFailure`) are skipped wherever they sit.
//! Serde reads nested elements by recursion, so a document nested deeper than
//! [`MAX_DEPTH`] is refused by an iterative pre-scan before serde sees it: a hostile report
//! becomes an error, never a stack overflow.

use quick_xml::events::Event;
use serde::Deserialize;

use super::test_result::{TestResult, TestStatus, first_line};

/// Why a JUnit report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("not a JUnit XML report")]
    Xml(#[source] quick_xml::DeError),
    #[error("the JUnit report nests elements more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// Deepest element nesting read. Real reports nest a handful of suites; serde's recursion
/// stays far inside a 2 MiB thread stack (a debug build's) at this depth.
pub const MAX_DEPTH: usize = 64;

/// A `<testsuites>` or `<testsuite>` element: both hold suites and cases, so one recursive
/// type reads either root and any nesting.
#[derive(Debug, Deserialize)]
struct Suite {
    #[serde(rename = "@name", default)]
    name: Option<String>,
    #[serde(rename = "testsuite", default)]
    suites: Vec<Suite>,
    #[serde(rename = "testcase", default)]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    #[serde(rename = "@name", default)]
    name: String,
    #[serde(rename = "@classname", default)]
    classname: Option<String>,
    #[serde(rename = "@time", default)]
    time: Option<String>,
    #[serde(rename = "failure", default)]
    failures: Vec<Problem>,
    #[serde(rename = "error", default)]
    errors: Vec<Problem>,
    #[serde(rename = "skipped", default)]
    skipped: Vec<Problem>,
}

/// A `<failure>`, `<error>` or `<skipped>` element.
#[derive(Debug, Deserialize)]
struct Problem {
    #[serde(rename = "@message", default)]
    message: Option<String>,
    #[serde(rename = "$text", default)]
    text: Option<String>,
}

/// Every test case of the report, in document order. A case with a `<failure>` or an
/// `<error>` failed; one with `<skipped>` (and neither) was skipped; any other passed.
pub fn parse(xml: &str) -> Result<Vec<TestResult>, JunitError> {
    check_depth(xml)?;
    let root: Suite = quick_xml::de::from_str(xml).map_err(JunitError::Xml)?;
    let mut results = Vec::new();
    collect(&root, &mut results);
    Ok(results)
}

/// Walks the document's events without recursion and refuses it at the first element deeper
/// than [`MAX_DEPTH`]. Syntax errors are left to serde, which names them the same way as
/// for a shallow document.
fn check_depth(xml: &str) -> Result<(), JunitError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(JunitError::TooDeep);
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

fn collect(suite: &Suite, results: &mut Vec<TestResult>) {
    for case in &suite.cases {
        results.push(result(case, suite.name.as_deref()));
    }
    for child in &suite.suites {
        collect(child, results);
    }
}

fn result(case: &Case, suite: Option<&str>) -> TestResult {
    let scope = case
        .classname
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(suite.filter(|s| !s.is_empty()));
    let name = match scope {
        Some(scope) => format!("{scope}::{}", case.name),
        None => case.name.clone(),
    };
    let problem = case.failures.iter().chain(&case.errors).next();
    let (status, message) = match problem {
        Some(problem) => (TestStatus::Failed, message(problem)),
        None if !case.skipped.is_empty() => (TestStatus::Skipped, None),
        None => (TestStatus::Passed, None),
    };
    TestResult {
        name,
        status,
        message,
        classname: scope.map(str::to_string),
        duration_ms: case.time.as_deref().and_then(milliseconds),
    }
}

/// A `time` attribute (seconds, possibly with Surefire's thousands separators: `1,234.5`)
/// in milliseconds. One that does not read as a finite, non-negative number is left out.
fn milliseconds(time: &str) -> Option<u64> {
    let seconds: f64 = time.trim().replace(',', "").parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// The `message` attribute's first line, else the body's. A Rust panic's first line only
/// says where (`thread 'x' panicked at src/lib.rs:4:5:`), so the line after it, which says
/// what, is taken instead.
fn message(problem: &Problem) -> Option<String> {
    let text = problem.text.as_deref().unwrap_or("");
    let panic_detail = || {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines.next()?;
        (first.starts_with("thread '") && first.contains(" panicked at "))
            .then(|| lines.next().and_then(first_line))?
    };
    panic_detail()
        .or_else(|| problem.message.as_deref().and_then(first_line))
        .or_else(|| first_line(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> Vec<TestResult> {
        let path = format!("{}/tests/fixtures/junit/{name}", env!("CARGO_MANIFEST_DIR"));
        let xml = std::fs::read_to_string(&path).expect("golden file exists");
        parse(&xml).expect("golden file parses")
    }

    fn summary(results: &[TestResult]) -> Vec<(String, TestStatus, Option<String>)> {
        results
            .iter()
            .map(|r| (r.name.clone(), r.status, r.message.clone()))
            .collect()
    }

    fn row(
        name: &str,
        status: TestStatus,
        message: Option<&str>,
    ) -> (String, TestStatus, Option<String>) {
        (name.into(), status, message.map(Into::into))
    }

    #[test]
    fn pytest_report_with_failure_error_skip_and_parametrize() {
        use TestStatus::*;
        assert_eq!(
            summary(&golden("pytest.xml")),
            vec![
                row("tests.test_sample::test_adds", Passed, None),
                row(
                    "tests.test_sample::test_fails",
                    Failed,
                    Some("AssertionError: sum is off")
                ),
                row("tests.test_sample::test_skipped", Skipped, None),
                row(
                    "tests.test_sample::test_fixture_error",
                    Failed,
                    Some("failed on setup with \"RuntimeError: fixture exploded\"")
                ),
                row("tests.test_sample.TestGroup::test_in_class", Passed, None),
                row("tests.test_sample.TestGroup::test_param[1]", Passed, None),
                row(
                    "tests.test_sample.TestGroup::test_param[2]",
                    Failed,
                    Some("assert 2 == 1")
                ),
            ]
        );
    }

    /// A JUnit report written from the summary names each case as the runner did.
    #[test]
    fn the_scope_of_the_name_is_kept_as_the_classname() {
        let pytest = golden("pytest.xml");
        assert_eq!(pytest[0].classname.as_deref(), Some("tests.test_sample"));
        // nextest's case names hold `::` themselves (`tests::ok`).
        let nextest = golden("nextest.xml");
        assert_eq!(nextest[0].classname.as_deref(), Some("proj"));
        assert_eq!(nextest[0].name, "proj::tests::ok");
        // And its own time, for the report's `time`.
        assert_eq!(nextest[0].duration_ms, Some(13));
        assert_eq!(milliseconds("1,234.5"), Some(1_234_500));
        assert_eq!(milliseconds("NaN"), None);
    }

    #[test]
    fn mocha_xunit_has_a_bare_testsuite_root_and_no_message_attribute() {
        use TestStatus::*;
        assert_eq!(
            summary(&golden("mocha-xunit.xml")),
            vec![
                row("math::adds", Passed, None),
                row("math::fails \"quoted\" <tag>", Failed, Some("sum is off")),
                row("math::skipped one", Skipped, None),
                row("math nested::throws", Failed, Some("boom")),
                row("strings::upper", Passed, None),
            ]
        );
    }

    #[test]
    fn vitest_junit_names_carry_the_file_and_the_describe_path() {
        use TestStatus::*;
        assert_eq!(
            summary(&golden("vitest.xml")),
            vec![
                row("sample.test.js::math > adds", Passed, None),
                row(
                    "sample.test.js::math > fails",
                    Failed,
                    Some("expected 2 to be 3 // Object.is equality")
                ),
                row("sample.test.js::math > skipped one", Skipped, None),
                row(
                    "sample.test.js::math > nested > throws",
                    Failed,
                    Some("boom")
                ),
                row("sample.test.js::top level", Passed, None),
            ]
        );
    }

    #[test]
    fn nextest_panic_message_is_the_line_after_the_location() {
        use TestStatus::*;
        assert_eq!(
            summary(&golden("nextest.xml")),
            vec![
                row("proj::tests::ok", Passed, None),
                row(
                    "proj::tests::bad",
                    Failed,
                    Some("assertion `left == right` failed: one is not two")
                ),
            ]
        );
    }

    #[test]
    fn nested_suites_and_interleaved_elements_are_read() {
        use TestStatus::*;
        let results = summary(&golden("nested-surefire.xml"));
        assert_eq!(
            results,
            vec![
                row("com.example.AppTest::adds", Passed, None),
                row(
                    "com.example.AppTest::fails",
                    Failed,
                    Some("expected:<2> but was:<3>")
                ),
                row(
                    "com.example.AppTest::crashes",
                    Failed,
                    Some("java.lang.IllegalStateException: boom")
                ),
                row("inner::deep", Passed, None),
                row("inner::ignored", Skipped, None),
            ]
        );
    }

    fn nested(depth: usize) -> String {
        let mut xml = "<testsuite name='s'>".repeat(depth);
        xml.push_str("<testcase name='deep'/>");
        xml.push_str(&"</testsuite>".repeat(depth));
        xml
    }

    /// Issue 12, finding 3: a 3,000-deep report overflowed the stack and aborted the process.
    #[test]
    fn issue_12_deeply_nested_reports_are_an_error_not_an_abort() {
        for depth in [3_000, 100_000] {
            let error = parse(&nested(depth)).expect_err("too deep");
            assert!(matches!(error, JunitError::TooDeep), "{error}");
            assert!(error.to_string().contains("more than 64 deep"), "{error}");
        }
        // Unclosed nesting is refused the same way, before any syntax error.
        let open = "<testsuite>".repeat(100_000);
        assert!(matches!(parse(&open), Err(JunitError::TooDeep)));
    }

    #[test]
    fn nesting_up_to_the_limit_still_parses() {
        let results = parse(&nested(MAX_DEPTH - 1)).expect("deep but allowed");
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].name, "s::deep");
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        assert!(parse("<testsuite><testcase name='a'>").is_err());
        assert!(parse("this is not xml").is_err());
    }
}

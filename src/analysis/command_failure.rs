//! Why a command failed beyond its test cases ([`cause`]): a coverage gate, a collection
//! error, a missing dependency, or something else (a plugin, a crash after the tests), with
//! the line that says so. A run whose tests all passed but whose command failed is a command
//! failure, reported beside the tests' verdict instead of deciding it.

use crate::framework::results::test_result::{MESSAGE_LIMIT, cut};
pub use crate::wire::findings::FailureKind;

/// Markers of a command line or config the runner refused (pytest exits 4 with
/// `error: unrecognized arguments: --cov=calc` when pytest-cov is missing).
const USAGE: [&str; 6] = [
    "error: unrecognized arguments:",
    "error: unrecognized option",
    "error: no such option",
    "error: argument ",
    "Error importing plugin",
    "PluginValidationError",
];
/// Markers of a missing dependency, in any runner's words.
const MISSING: [&str; 5] = [
    "ModuleNotFoundError:",
    "Cannot find module",
    "Cannot find package",
    "no required module provides package",
    "cannot find package",
];
/// Markers of tests that could not be loaded.
const COLLECTION: [&str; 6] = [
    "ERROR collecting ",
    "error during collection",
    "errors during collection",
    "Test suite failed to run",
    "[build failed]",
    "ImportError:",
];
/// Markers of a coverage threshold that was not met.
const COVERAGE: [&str; 4] = [
    "Required test coverage of",
    "coverage threshold for",
    "does not meet global threshold",
    "does not meet threshold",
];

/// The kind of failure `stdout` and `stderr` show, and the line that names it (cut to the
/// message limit). A usage error comes first (`error: unrecognized arguments: --cov=calc`,
/// without the program's name), then a missing module: a collection error caused by one is
/// a missing dependency, its line `ERROR collecting <file>: ModuleNotFoundError: …`.
/// Without a known marker, the last line on stderr (else stdout) that says error is the
/// cause, else its last line: never a header such as pytest's `rootdir:`.
pub fn cause(stdout: &str, stderr: &str) -> (FailureKind, Option<String>) {
    let lines = || stdout.lines().chain(stderr.lines()).map(clean);
    let find = |markers: &[&str]| lines().find(|l| markers.iter().any(|m| l.contains(m)));
    let collecting = lines().find(|l| l.starts_with("ERROR collecting "));
    let line = |text: String| Some(cut(&text, MESSAGE_LIMIT));
    if let Some(usage) = find(&USAGE) {
        // `__main__.py: error: …` → `error: …`: the program's name says nothing.
        let usage = match usage.find("error: ") {
            Some(at) if at > 0 && usage[..at].ends_with(": ") => usage[at..].to_string(),
            _ => usage,
        };
        let hint = if usage.contains("--cov") {
            " (the option comes from pytest-cov, which is not installed)"
        } else {
            ""
        };
        return (FailureKind::UsageError, line(format!("{usage}{hint}")));
    }
    if let Some(missing) = find(&MISSING) {
        let text = match collecting {
            Some(file) => format!("{file}: {missing}"),
            None => missing,
        };
        return (FailureKind::MissingDependency, line(text));
    }
    if let Some(collection) = collecting.or_else(|| find(&COLLECTION)) {
        let detail = lines().find(|l| l.ends_with("Error") || l.contains("Error: "));
        let text = match detail {
            Some(detail) if detail != collection => format!("{collection}: {detail}"),
            _ => collection,
        };
        return (FailureKind::CollectionError, line(text));
    }
    if let Some(coverage) = find(&COVERAGE) {
        return (FailureKind::CoverageGate, line(coverage));
    }
    let errorish = |text: &str| {
        text.lines().rev().map(clean).find(|l| {
            l.starts_with("ERROR") || l.contains("error:") || l.contains("Error:") || {
                let first = l.split_whitespace().next().unwrap_or_default();
                first.ends_with("Error") || first.ends_with("Error:")
            }
        })
    };
    let last = |text: &str| text.lines().rev().map(clean).find(|l| !l.is_empty());
    let text = errorish(stderr)
        .or_else(|| errorish(stdout))
        .or_else(|| last(stderr))
        .or_else(|| last(stdout));
    (FailureKind::Other, text.and_then(line))
}

/// A line without the decoration runners put around it: pytest's `E   ` prefix and its
/// `____ title ____` and `==== title ====` rules.
fn clean(line: &str) -> String {
    let line = line.trim();
    let line = line.strip_prefix("E  ").map_or(line, str::trim);
    line.trim_matches(|c| c == '_' || c == '=')
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_coverage_gate() {
        let out = "tests/test_a.py ..\n---------- coverage ----------\nTOTAL 10 5 50%\n\
                   FAIL Required test coverage of 90% not reached. Total coverage: 50.00%\n\
                   ============ 2 passed in 0.1s ============\n";
        assert_eq!(
            cause(out, ""),
            (
                FailureKind::CoverageGate,
                Some(
                    "FAIL Required test coverage of 90% not reached. Total coverage: 50.00%".into()
                )
            )
        );
    }

    #[test]
    fn tells_a_missing_module_from_a_collection_error() {
        let out = "==== ERRORS ====\n____ ERROR collecting tests/test_x.py ____\n\
                   ImportError while importing test module '/w/tests/test_x.py'.\n\
                   E   ModuleNotFoundError: No module named 'foo'\n\
                   !!! Interrupted: 1 error during collection !!!\n";
        assert_eq!(
            cause(out, ""),
            (
                FailureKind::MissingDependency,
                Some(
                    "ERROR collecting tests/test_x.py: ModuleNotFoundError: No module named 'foo'"
                        .into()
                )
            )
        );
        let out = "____ ERROR collecting tests/test_y.py ____\nE   SyntaxError: invalid syntax\n\
                   !!! Interrupted: 1 error during collection !!!\n";
        assert_eq!(
            cause(out, ""),
            (
                FailureKind::CollectionError,
                Some("ERROR collecting tests/test_y.py: SyntaxError: invalid syntax".into())
            )
        );
    }

    /// Issue 27: pytest's usage error was reported by its last line, `rootdir: <checkout>`.
    #[test]
    fn issue_27_a_usage_error_is_named_by_its_error_line() {
        let stderr = "ERROR: usage: __main__.py [options] [file_or_dir] [file_or_dir] [...]\n\
                      __main__.py: error: unrecognized arguments: --cov=calc\n\
                      \x20 inifile: /w/pytest.ini\n  rootdir: /w\n";
        assert_eq!(
            cause("", stderr),
            (
                FailureKind::UsageError,
                Some(
                    "error: unrecognized arguments: --cov=calc (the option comes from pytest-cov, which is not installed)"
                        .into()
                )
            )
        );
        assert_eq!(
            cause("", "boom\nerror: linker `cc` not found\n  rootdir: /w\n").1,
            Some("error: linker `cc` not found".into())
        );
    }

    #[test]
    fn anything_else_is_the_last_line_on_stderr() {
        assert_eq!(
            cause("2 passed\n", "Traceback\nRuntimeError: plugin broke\n\n"),
            (
                FailureKind::Other,
                Some("RuntimeError: plugin broke".into())
            )
        );
    }
}

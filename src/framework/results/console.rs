//! Test results read from a runner's console output ([`parse`]), for commands whose runner
//! we cannot ask for a report (a script, `make test`, `cargo test`): pytest's short summary
//! and `-v` lines, `go test`'s `--- FAIL:` lines, Jest's `●` failure headers, Vitest's
//! `FAIL  file > test` lines, Mocha's numbered failures and cargo test's `test … FAILED`.
//! Also the test that was still running when a run was killed ([`running_test`]).
//!
//! Console output mostly names failures only, so a run's console report lists the
//! failures it saw and the passes it could tell; `per_test` counts the other known tests of
//! a run that finished as passed.

use super::test_result::{MESSAGE_LIMIT, TestResult, TestStatus, cut};

/// Every test case `text` names with a result, in order of appearance, one entry per name
/// (a failure wins over a pass of the same name).
pub fn parse(text: &str) -> Vec<TestResult> {
    let mut results: Vec<TestResult> = Vec::new();
    let mut add = |name: String, status: TestStatus, message: Option<String>| match results
        .iter_mut()
        .find(|r| r.name == name)
    {
        Some(existing) => {
            if status == TestStatus::Failed && existing.status != TestStatus::Failed {
                existing.status = status;
                existing.message = message;
            } else if status == existing.status && existing.message.is_none() {
                existing.message = message;
            }
        }
        None => results.push(TestResult {
            classname: None,
            duration_ms: None,
            name,
            status,
            message,
        }),
    };
    let mocha = text.lines().any(|l| is_count_line(l.trim(), "passing"));
    let mut jest_file: Option<String> = None;
    let mut go_pending: Vec<usize> = Vec::new();
    let mut mocha_failing_seen = false;
    let mut go_tests: Vec<(String, TestStatus)> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        // pytest: `FAILED tests/x.py::test_y - AssertionError: …` (short summary) and
        // `tests/x.py::test_y PASSED [ 50%]` (-v).
        if let Some((status, rest)) = pytest_summary(line) {
            if let Some((id, message)) = split_message(rest)
                && id.contains("::")
            {
                add(pytest_name(id), status, message);
            }
            continue;
        }
        if let Some((id, status)) = pytest_verbose(line) {
            add(pytest_name(id), status, None);
            continue;
        }
        // go test: `--- FAIL: TestX (0.00s)`; the package comes on a later `FAIL\tpkg` line.
        if let Some((status, rest)) = go_line(line) {
            let name = rest.split(" (").next().unwrap_or(rest).trim().to_string();
            go_pending.push(go_tests.len());
            go_tests.push((name, status));
            continue;
        }
        if let Some(package) = go_package(raw) {
            for index in go_pending.drain(..) {
                go_tests[index].0 = format!("{package}::{}", go_tests[index].0);
            }
            continue;
        }
        // cargo test: `test module::name ... FAILED`.
        if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, result)) = rest.rsplit_once(" ... ")
        {
            match result.trim() {
                "ok" => add(name.to_string(), TestStatus::Passed, None),
                "FAILED" => add(name.to_string(), TestStatus::Failed, None),
                "ignored" => add(name.to_string(), TestStatus::Skipped, None),
                _ => {}
            }
            continue;
        }
        // Vitest: ` FAIL  src/a.test.ts > suite > test`.
        if let Some(rest) = line.strip_prefix("FAIL  ")
            && let Some((file, path)) = rest.split_once(" > ")
        {
            let name = format!("{}::{}", file.trim(), path.trim());
            add(name, TestStatus::Failed, None);
            continue;
        }
        // Jest: `FAIL src/a.test.js` then `● suite › test` for each failure.
        if let Some(file) = line
            .strip_prefix("FAIL ")
            .or_else(|| line.strip_prefix("PASS "))
        {
            jest_file = Some(file.split_whitespace().next().unwrap_or(file).to_string());
            continue;
        }
        if let Some(title) = line.strip_prefix("● ")
            && let Some(file) = &jest_file
            && title.contains(" › ")
            && !title.starts_with("Console")
        {
            add(format!("{file}::{title}"), TestStatus::Failed, None);
            continue;
        }
        // Mocha's spec reporter: `1) title` in the listing, before `N failing`.
        if mocha {
            if is_count_line(line, "failing") {
                mocha_failing_seen = true;
            } else if !mocha_failing_seen && let Some(title) = mocha_failure(line) {
                add(title.to_string(), TestStatus::Failed, None);
            } else if let Some(title) = line.strip_prefix("✔ ").or_else(|| line.strip_prefix("✓ "))
            {
                let title = title.rsplit_once(" (").map_or(title, |(t, _)| t);
                add(title.to_string(), TestStatus::Passed, None);
            }
        }
    }
    for (name, status) in go_tests {
        add(name, status, None);
    }
    results
}

/// The test a run was executing when it stopped, from streaming output that announces a
/// test before its result: pytest `-v` (`tests/x.py::test_y ` with no result after it),
/// `go test -v` (`=== RUN   TestX` with no `--- PASS/FAIL`) and cargo test
/// (`test name ...` with no result, or `test name has been running for over 60 seconds`).
pub fn running_test(text: &str) -> Option<String> {
    let mut running: Option<String> = None;
    let mut go_done: Vec<String> = Vec::new();
    let mut go_started: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix("=== RUN").map(str::trim) {
            go_started.push(name.to_string());
            continue;
        }
        if let Some((_, rest)) = go_line(line) {
            go_done.push(rest.split(" (").next().unwrap_or(rest).trim().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some(name) = rest.strip_suffix(" has been running for over 60 seconds") {
                running = Some(name.to_string());
            } else if let Some(name) = rest.strip_suffix(" ...") {
                running = Some(name.to_string());
            } else if rest.contains(" ... ") {
                running = None;
            }
            continue;
        }
        // pytest -v writes the node id, then the result on the same line once it is known.
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains(".py::") {
            running = pytest_verbose(line).is_none().then(|| pytest_name(first));
        }
    }
    let go_running = go_started.into_iter().rev().find(|n| !go_done.contains(n));
    go_running.or(running).map(|n| cut(&n, MESSAGE_LIMIT))
}

/// pytest's node id `tests/x.py::TestC::test_y[1]` as its JUnit report names the same case
/// (`tests.x.TestC::test_y[1]`), so console and report results of one job agree.
pub fn pytest_name(node_id: &str) -> String {
    let mut parts: Vec<&str> = node_id.split("::").collect();
    let Some(name) = parts.pop() else {
        return node_id.to_string();
    };
    if parts.is_empty() {
        return node_id.to_string();
    }
    let module = parts[0]
        .strip_suffix(".py")
        .unwrap_or(parts[0])
        .replace('/', ".");
    let scope: Vec<String> = std::iter::once(module)
        .chain(parts[1..].iter().map(|p| p.to_string()))
        .collect();
    format!("{}::{name}", scope.join("."))
}

fn pytest_summary(line: &str) -> Option<(TestStatus, &str)> {
    if let Some(rest) = line.strip_prefix("FAILED ") {
        return Some((TestStatus::Failed, rest));
    }
    line.strip_prefix("ERROR ")
        .map(|rest| (TestStatus::Failed, rest))
}

/// `id - message` into the id and the message.
fn split_message(rest: &str) -> Option<(&str, Option<String>)> {
    let (id, message) = match rest.split_once(" - ") {
        Some((id, message)) => (id, Some(cut(message.trim(), MESSAGE_LIMIT))),
        None => (rest, None),
    };
    let id = id.trim();
    (!id.is_empty() && !id.contains(' ')).then_some((id, message))
}

fn pytest_verbose(line: &str) -> Option<(&str, TestStatus)> {
    let mut words = line.split_whitespace();
    let id = words.next()?;
    if !id.contains(".py::") {
        return None;
    }
    let status = match words.next()? {
        "PASSED" | "XFAIL" => TestStatus::Passed,
        "FAILED" | "ERROR" | "XPASS" => TestStatus::Failed,
        "SKIPPED" => TestStatus::Skipped,
        _ => return None,
    };
    Some((id, status))
}

fn go_line(line: &str) -> Option<(TestStatus, &str)> {
    let rest = line.strip_prefix("--- ")?;
    let (word, rest) = rest.split_once(": ")?;
    let status = match word {
        "PASS" => TestStatus::Passed,
        "FAIL" => TestStatus::Failed,
        "SKIP" => TestStatus::Skipped,
        _ => return None,
    };
    Some((status, rest))
}

/// `FAIL\texample.com/pkg\t0.01s` or `ok  \texample.com/pkg\t0.01s`: the package whose
/// tests were listed just before.
fn go_package(raw: &str) -> Option<&str> {
    let rest = raw
        .strip_prefix("FAIL\t")
        .or_else(|| raw.strip_prefix("ok  \t"))?;
    rest.split('\t').next().filter(|p| !p.is_empty())
}

fn is_count_line(line: &str, word: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next().is_some_and(|n| n.parse::<u32>().is_ok()) && words.next() == Some(word)
}

fn mocha_failure(line: &str) -> Option<&str> {
    let (number, title) = line.split_once(") ")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit()))
        .then_some(title.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(results: &[TestResult]) -> Vec<(&str, TestStatus)> {
        results
            .iter()
            .map(|r| (r.name.as_str(), r.status))
            .collect()
    }

    #[test]
    fn reads_pytest_short_summary_and_verbose_lines() {
        let text = "tests/test_a.py::test_ok PASSED [ 50%]\n\
                    tests/test_a.py::TestC::test_bad FAILED [100%]\n\
                    =========== short test summary info ===========\n\
                    FAILED tests/test_a.py::TestC::test_bad - assert 1 == 2\n\
                    ERROR tests/test_b.py - ModuleNotFoundError: No module named 'x'\n";
        let results = parse(text);
        use TestStatus::*;
        assert_eq!(
            named(&results),
            [
                ("tests.test_a::test_ok", Passed),
                ("tests.test_a.TestC::test_bad", Failed)
            ]
        );
        assert_eq!(results[1].message.as_deref(), Some("assert 1 == 2"));
    }

    #[test]
    fn reads_go_cargo_jest_vitest_and_mocha_failures() {
        use TestStatus::*;
        let go = "--- FAIL: TestFlaky (0.00s)\n    x_test.go:9: boom\n--- PASS: TestOk (0.00s)\nFAIL\texample.com/m\t0.01s\n";
        assert_eq!(
            named(&parse(go)),
            [
                ("example.com/m::TestFlaky", Failed),
                ("example.com/m::TestOk", Passed)
            ]
        );
        let cargo = "running 2 tests\ntest a::works ... ok\ntest a::flaky ... FAILED\n";
        assert_eq!(
            named(&parse(cargo)),
            [("a::works", Passed), ("a::flaky", Failed)]
        );
        let jest = "FAIL src/sum.test.js\n  ● sum › adds randomly\n\n    expect(received)\nPASS src/ok.test.js\n";
        assert_eq!(
            named(&parse(jest)),
            [("src/sum.test.js::sum › adds randomly", Failed)]
        );
        let vitest = " ❯ src/a.test.ts (2 tests | 1 failed) 5ms\n FAIL  src/a.test.ts > math > flips\nAssertionError: expected 1 to be 2\n";
        assert_eq!(
            named(&parse(vitest)),
            [("src/a.test.ts::math > flips", Failed)]
        );
        let mocha = "  coin\n    ✔ lands\n    1) flips\n\n  1 passing (5ms)\n  1 failing\n\n  1) coin\n       flips:\n     AssertionError\n";
        assert_eq!(named(&parse(mocha)), [("lands", Passed), ("flips", Failed)]);
    }

    #[test]
    fn names_the_test_left_running() {
        assert_eq!(
            running_test("tests/test_a.py::test_ok PASSED [ 50%]\ntests/test_a.py::test_hang "),
            Some("tests.test_a::test_hang".into())
        );
        assert_eq!(
            running_test("=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestHang\n"),
            Some("TestHang".into())
        );
        assert_eq!(
            running_test("test a::ok ... ok\ntest a::hangs has been running for over 60 seconds\n"),
            Some("a::hangs".into())
        );
        assert_eq!(running_test("tests/test_a.py::test_ok PASSED\n"), None);
    }
}

//! The document's shape for each outcome, its counts, and what it does to text XML cannot
//! hold. The e2e test `junit_report` checks a real job's document with `junitparser` and
//! the Surefire XSD.

use quick_xml::events::Event;
use serde_json::{Value, json};

use super::*;

fn run(attempt: u32, seed: u64, passed: bool, stdout: &str) -> Value {
    json!({
        "attempt": attempt, "exit_code": if passed { 0 } else { 1 }, "stdout": stdout,
        "stderr": "", "passed": passed, "seed": seed, "duration_ms": 1500, "timed_out": false,
    })
}

fn test(name: &str, runs: u32, attempts: &[u32], seeds: &[u64]) -> Value {
    json!({
        "name": name, "runs": runs, "failures": attempts.len(), "failure_rate": 0.0,
        "ci_low": 0.0, "ci_high": 0.0, "failing_seeds": seeds, "verdict": "flaky",
        "severity": "low", "failing_attempts": attempts, "first_failure": "assert 3 == 0",
        "mean_seconds": 0.25,
    })
}

fn summary(results: Vec<Value>, tests: Vec<Value>) -> Summary {
    let failures = results.iter().filter(|r| r["passed"] == false).count();
    serde_json::from_value(json!({
        "total_runs": results.len(), "parallelism": 2, "framework": "python",
        "failures": failures, "repro_rate": 0.5, "results": results, "verdict": "flaky",
        "severity": "high", "ci_low": 0.1, "ci_high": 0.9, "runs_requested": 4,
        "runs_saved": 0, "timeouts": 0, "failing_seeds": [], "tests": tests,
        "runs_needed": 299,
        "install": {"status": "skipped", "framework": "python", "duration_ms": 0},
        "repo": "https://github.com/o/r", "commit": "abc1234", "test_command": "pytest -q",
        "duration_seconds": 12.25,
    }))
    .expect("a summary")
}

/// Four runs: 0 and 2 pass, 1 and 3 fail (`test_flaky` in both, `test_broken` in all).
fn flaky_broken_and_passing() -> Summary {
    let results = vec![
        run(0, 10, false, "F.. run 0"),
        run(1, 11, false, "FF. run 1"),
        run(2, 12, false, "F.. run 2"),
        run(3, 13, false, "FF. run 3"),
    ];
    let tests = vec![
        test("tests.test_a::test_flaky", 4, &[1, 3], &[11, 13]),
        test(
            "tests.test_a::test_broken",
            4,
            &[0, 1, 2, 3],
            &[10, 11, 12, 13],
        ),
        test("tests.test_a::test_ok", 4, &[], &[]),
    ];
    summary(results, tests)
}

/// Each element's name with its attributes, in document order, and each text node as
/// `#text`, read back by quick-xml with entities and character references resolved.
fn elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        match &event {
            Event::Text(t) => text.push_str(&t.decode().expect("UTF-8")),
            Event::GeneralRef(r) => match r.resolve_char_ref().expect("a valid reference") {
                Some(c) => text.push(c),
                None => {
                    let name = r.decode().expect("UTF-8");
                    let entity = quick_xml::escape::resolve_predefined_entity(&name);
                    text.push_str(entity.expect("a predefined entity"));
                }
            },
            _ => {
                if !text.trim().is_empty() {
                    out.push(("#text".into(), vec![(String::new(), text.clone())]));
                }
                text.clear();
            }
        }
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let attributes = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("a well-formed attribute");
                        let value = a.unescape_value().expect("escaped well").into_owned();
                        (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
                    })
                    .collect();
                out.push((
                    String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    attributes,
                ));
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

fn attribute_of<'a>(element: &'a (String, Vec<(String, String)>), name: &str) -> &'a str {
    element
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} on {element:?}"))
}

/// The element names inside each `<testcase>`, by its name.
fn children_of_cases(xml: &str) -> Vec<(String, Vec<String>)> {
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    for element in elements(xml) {
        if element.0 == "testcase" {
            cases.push((attribute_of(&element, "name").to_string(), Vec::new()));
        } else if element.0 != "#text"
            && let Some(case) = cases.last_mut()
        {
            case.1.push(element.0);
        }
    }
    cases
}

#[test]
fn flaky_broken_and_passing_cases_take_surefire_rerun_elements() {
    let xml = render(&flaky_broken_and_passing());
    let attempt = |tag: &str| vec![tag.to_string(), "stackTrace".into(), "system-out".into()];
    let flaky = [attempt("flakyFailure"), attempt("flakyFailure")].concat();
    let broken = [
        vec!["failure".to_string()],
        attempt("rerunFailure"),
        attempt("rerunFailure"),
        attempt("rerunFailure"),
    ]
    .concat();
    assert_eq!(
        children_of_cases(&xml),
        vec![
            ("test_flaky".to_string(), flaky),
            ("test_broken".to_string(), broken),
            ("test_ok".to_string(), vec![]),
        ]
    );
    let all = elements(&xml);
    let suite = all
        .iter()
        .find(|e| e.0 == "testsuite")
        .expect("a testsuite");
    for (name, value) in [
        ("tests", "3"),
        ("failures", "1"),
        ("errors", "0"),
        ("skipped", "0"),
        ("time", "12.250"),
    ] {
        assert_eq!(attribute_of(suite, name), value, "{name}");
    }
    let case = all.iter().find(|e| e.0 == "testcase").expect("a testcase");
    assert_eq!(attribute_of(case, "classname"), "tests.test_a");
    assert_eq!(
        attribute_of(case, "time"),
        "0.250",
        "the runner's mean time"
    );
    let flaky_failures: Vec<&str> = all
        .iter()
        .filter(|e| e.0 == "flakyFailure")
        .map(|e| attribute_of(e, "message"))
        .collect();
    assert_eq!(
        flaky_failures,
        [
            "attempt 1, seed 11, 1.500 s: assert 3 == 0",
            "attempt 3, seed 13, 1.500 s: exit code 1 (first failure: assert 3 == 0)"
        ]
    );
    assert!(xml.contains("<stackTrace>FF. run 3</stackTrace>"), "{xml}");
    let property = |name: &str| {
        all.iter()
            .find(|e| e.0 == "property" && attribute_of(e, "name") == name)
            .map(|e| attribute_of(e, "value").to_string())
    };
    assert_eq!(property("flaky-detector.seeds").as_deref(), Some("10-13"));
    assert_eq!(
        property("flaky-detector.commit").as_deref(),
        Some("abc1234")
    );
    assert_eq!(property("flaky-detector.verdict").as_deref(), Some("flaky"));
}

#[test]
fn markup_quotes_and_control_characters_of_names_and_output_are_made_safe() {
    let nasty = "test_<&\"quoted'>[\u{7}]";
    let output = "\u{1b}[31mFAILED\u{1b}[0m <tag> & \"q\" \u{0}\u{8}\u{b}\u{c}\u{1f} end";
    let mut s = summary(
        vec![run(0, 1, false, output), run(1, 2, true, "")],
        vec![test(&format!("tests::{nasty}"), 2, &[0], &[1])],
    );
    s.tests[0].first_failure = Some("boom <b>\u{1b}".into());
    let xml = render(&s);
    assert!(
        !xml.chars()
            .any(|c| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}')),
        "a control character XML 1.0 forbids is left in {xml:?}"
    );
    let all = elements(&xml);
    let case = all.iter().find(|e| e.0 == "testcase").expect("a testcase");
    assert_eq!(attribute_of(case, "name"), "test_<&\"quoted'>[\u{FFFD}]");
    let texts: Vec<&str> = all
        .iter()
        .filter(|e| e.0 == "#text")
        .map(|e| e.1[0].1.as_str())
        .collect();
    let clean = "FAILED <tag> & \"q\" \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} end";
    assert_eq!(texts, [clean, clean], "stackTrace and system-out");
    let failure = all.iter().find(|e| e.0 == "flakyFailure").expect("flaky");
    assert!(
        attribute_of(failure, "message").ends_with(": boom <b>\u{FFFD}"),
        "{failure:?}"
    );
}

#[test]
fn a_job_without_runs_or_tests_is_one_passing_case_for_the_command() {
    let xml = render(&summary(vec![], vec![]));
    assert_eq!(
        children_of_cases(&xml),
        vec![("pytest -q".to_string(), vec![])]
    );
    assert!(
        xml.contains(r#"tests="1" errors="0" skipped="0" failures="0""#),
        "{xml}"
    );
    assert!(!xml.contains("flaky-detector.seeds"), "{xml}");
}

#[test]
fn without_a_per_test_report_the_command_is_the_case_and_each_run_an_attempt() {
    let always = summary(vec![run(0, 5, false, "a"), run(1, 6, false, "b")], vec![]);
    assert_eq!(
        children_of_cases(&render(&always))[0].1,
        [
            "failure",
            "#text",
            "rerunFailure",
            "stackTrace",
            "system-out"
        ]
        .iter()
        .filter(|n| **n != "#text")
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
    );
    let sometimes = summary(vec![run(0, 5, false, "a"), run(1, 6, true, "")], vec![]);
    let xml = render(&sometimes);
    assert!(
        xml.contains(r#"classname="flaky-detector" time="1.500""#),
        "a run's mean: {xml}"
    );
    assert_eq!(
        children_of_cases(&xml)[0].1,
        ["flakyFailure", "stackTrace", "system-out"]
    );
    assert!(
        xml.contains(r#"failures="0""#),
        "a flaky command is not a failure: {xml}"
    );
}

#[test]
fn runs_failing_outside_every_test_case_are_the_commands_attempts() {
    let results = vec![
        run(0, 1, false, "crash"),
        run(1, 2, false, "F"),
        run(2, 3, true, ""),
    ];
    let xml = render(&summary(results, vec![test("t::a", 3, &[1], &[2])]));
    let cases = children_of_cases(&xml);
    assert_eq!(cases.len(), 2, "{xml}");
    assert_eq!(cases[1].0, "pytest -q");
    assert!(xml.contains("attempt 0, seed 1"), "{xml}");
}

#[test]
fn the_runners_classname_is_kept_even_when_it_holds_colons() {
    let mut s = summary(
        vec![run(0, 1, true, "")],
        vec![test("crate::it::mod::case", 1, &[], &[])],
    );
    s.tests[0].classname = Some("crate::it".into());
    let xml = render(&s);
    assert!(
        xml.contains(r#"name="mod::case" classname="crate::it""#),
        "{xml}"
    );
}

#[test]
fn an_older_summary_finds_its_failed_attempts_by_seed() {
    let mut s = flaky_broken_and_passing();
    for test in &mut s.tests {
        test.failing_attempts.clear();
    }
    let cases = children_of_cases(&render(&s));
    assert_eq!(
        cases[0].1.iter().filter(|n| *n == "flakyFailure").count(),
        2
    );
}

#[test]
fn the_quoted_output_is_bounded_however_many_attempts_fail() {
    let big = "x".repeat(STREAM_LIMIT * 4);
    let results: Vec<Value> = (0..8).map(|i| run(i, u64::from(i), false, &big)).collect();
    let xml = render(&summary(results, vec![]));
    // One failure body plus seven reruns, each with a stack trace and a system-out.
    assert!(xml.len() < 16 * STREAM_LIMIT, "{} bytes", xml.len());
    assert!(xml.len() > 14 * STREAM_LIMIT, "{} bytes", xml.len());
}

#[test]
fn the_stack_trace_starts_where_the_output_names_the_test() {
    let output = "..F\n____ test_a ____\nE  boom\nFAILED t.py::test_a\n";
    let xml = render(&summary(
        vec![run(0, 1, false, output), run(1, 2, true, "")],
        vec![test("t::test_a", 2, &[0], &[1])],
    ));
    assert!(
        xml.contains("<stackTrace>____ test_a ____\nE  boom\nFAILED t.py::test_a</stackTrace>"),
        "{xml}"
    );
    assert!(xml.contains("<system-out>..F\n____ test_a"), "{xml}");
}

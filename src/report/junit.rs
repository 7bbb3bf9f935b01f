//! A job as one JUnit XML document in Maven Surefire's rerun schema ([`render`]): one
//! `<testcase>` per test case and every run one attempt of it, so that a CI dashboard
//! (GitLab, Jenkins' junit plugin, GitHub test reporters) shows a flaky test as flaky
//! (`<flakyFailure>`, counted as passed) and a broken one as failed (`<failure>` then
//! `<rerunFailure>`s), neither as a plain pass nor a plain failure. The element and attribute
//! names and their order are those of `surefire-test-report-3.0.xsd`, which the tests
//! validate the output against (`tests/fixtures/junit/`).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::summary::wording::name_of;
use crate::summary::{RunResult, Summary, TestCaseStats};
use text::{attribute, seconds, tail, text_node};

/// Bytes of run output the whole document may quote. A run's output is quoted once per test
/// that failed in it, so without a bound 50 tests failing in 1000 runs would repeat the
/// summary's output 50 times; each quoted stream gets an equal share instead.
pub const OUTPUT_BUDGET: usize = 8 * 1024 * 1024;

/// Most bytes of one stream quoted in one attempt, however few attempts there are: enough
/// for a traceback, small enough for a dashboard to show.
const STREAM_LIMIT: usize = 16 * 1024;

/// The `classname` of the test case that stands for the command itself: its runs when the
/// runner gave no per-test report, or its failures outside every test case.
pub const COMMAND_CLASSNAME: &str = "flaky-detector";

/// What the runs say of one test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseOutcome {
    /// Passed in every run.
    Passed,
    /// Failed in some runs and passed in others: passed, with its failed attempts.
    Flaky,
    /// Failed in every run.
    Failed,
}

/// One `<testcase>`: its names as the runner gave them, and its failed attempts.
struct Case<'a> {
    classname: Option<String>,
    name: String,
    outcome: CaseOutcome,
    /// The runs in which it failed, in attempt order; empty when the summary cannot tell
    /// which they were (a summary from before `failing_attempts`, without its runs).
    attempts: Vec<&'a RunResult>,
    /// The first failure's line, which the summary keeps once per test case.
    message: Option<&'a str>,
    /// Seconds per run: the runner's own time for a test, a run's for the command.
    seconds: f64,
}

/// The JUnit document of `summary`: a `<testsuite>` whose `tests`, `failures`, `errors`
/// and `skipped` count test cases as Surefire does (a flaky case is not a failure), whose
/// `time` is the job's duration, and whose properties hold the job's figures. Control
/// characters of the runs' output, which XML 1.0 cannot carry, are dropped (ANSI colour
/// sequences) or shown as `�`.
pub fn render(summary: &Summary) -> String {
    let cases = cases(summary);
    let quoted = cases.iter().map(|c| c.attempts.len().max(1)).sum::<usize>();
    let share = (OUTPUT_BUDGET / (3 * quoted.max(1))).min(STREAM_LIMIT);
    let failures = cases
        .iter()
        .filter(|c| c.outcome == CaseOutcome::Failed)
        .count();

    let mut xml = Xml(Writer::new_with_indent(Vec::new(), b' ', 2));
    xml.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", COMMAND_CLASSNAME));
    suite.push_attribute(("time", seconds(summary.duration_seconds).as_str()));
    suite.push_attribute(("tests", cases.len().to_string().as_str()));
    suite.push_attribute(("errors", "0"));
    suite.push_attribute(("skipped", "0"));
    suite.push_attribute(("failures", failures.to_string().as_str()));
    xml.event(Event::Start(suite));
    xml.properties(&properties(summary));
    for case in &cases {
        xml.case(case, share);
    }
    xml.event(Event::End(BytesEnd::new("testsuite")));
    let mut bytes = xml.0.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).expect("the writer writes only the UTF-8 text it is given")
}

/// The summary's test cases, in its order (flakiest first), then the command itself when
/// some failed runs are not any test case's failure (a crash, a timeout, a coverage gate);
/// or the command alone when the runner gave no per-test report.
fn cases(summary: &Summary) -> Vec<Case<'_>> {
    if summary.tests.is_empty() {
        let attempts: Vec<&RunResult> = summary.results.iter().filter(|r| !r.passed).collect();
        return vec![Case {
            classname: Some(COMMAND_CLASSNAME.to_string()),
            name: summary.test_command.clone(),
            outcome: outcome(attempts.len() as u32, summary.total_runs),
            attempts,
            message: summary.first_error.as_deref(),
            seconds: mean_run_seconds(summary),
        }];
    }
    let mut cases: Vec<Case> = summary
        .tests
        .iter()
        .map(|t| test_case(summary, t))
        .collect();
    let explained: std::collections::BTreeSet<u32> = cases
        .iter()
        .flat_map(|c| c.attempts.iter().map(|r| r.attempt))
        .collect();
    let unexplained: Vec<&RunResult> = summary
        .results
        .iter()
        .filter(|r| !r.passed && !explained.contains(&r.attempt))
        .collect();
    if !unexplained.is_empty() {
        cases.push(Case {
            classname: Some(COMMAND_CLASSNAME.to_string()),
            name: summary.test_command.clone(),
            outcome: outcome(unexplained.len() as u32, summary.total_runs),
            attempts: unexplained,
            message: summary
                .command_failure
                .as_ref()
                .map(|c| c.cause.as_str())
                .or(summary.first_error.as_deref()),
            seconds: mean_run_seconds(summary),
        });
    }
    cases
}

fn test_case<'a>(summary: &'a Summary, test: &'a TestCaseStats) -> Case<'a> {
    let attempts: Vec<&RunResult> = if test.failing_attempts.is_empty() {
        // An older summary: its failing seeds name the runs, unless a seed was replayed.
        summary
            .results
            .iter()
            .filter(|r| !r.passed && test.failing_seeds.contains(&r.seed))
            .take(test.failures as usize)
            .collect()
    } else {
        test.failing_attempts
            .iter()
            .filter_map(|a| summary.results.iter().find(|r| r.attempt == *a))
            .collect()
    };
    let (classname, name) = names(test);
    Case {
        classname,
        name,
        outcome: outcome(test.failures, test.runs),
        attempts,
        message: test.first_failure.as_deref(),
        seconds: test.mean_seconds.unwrap_or(0.0),
    }
}

/// A run's mean duration, for the test case that stands for the command.
fn mean_run_seconds(summary: &Summary) -> f64 {
    let runs = summary.results.len().max(1) as f64;
    summary
        .results
        .iter()
        .map(|r| r.duration_ms as f64)
        .sum::<f64>()
        / runs
        / 1000.0
}

fn outcome(failures: u32, runs: u32) -> CaseOutcome {
    if failures == 0 {
        CaseOutcome::Passed
    } else if failures >= runs {
        CaseOutcome::Failed
    } else {
        CaseOutcome::Flaky
    }
}

/// `classname` and `name` as the runner reported them: the summary's name is
/// `classname::name`, split where the runner's scope ends when it is known, else at the
/// first `::` (a pytest classname never holds one; a Go package path or a Jest file neither).
fn names(test: &TestCaseStats) -> (Option<String>, String) {
    if let Some(classname) = &test.classname
        && let Some(name) = test
            .name
            .strip_prefix(classname.as_str())
            .and_then(|rest| rest.strip_prefix("::"))
    {
        return (Some(classname.clone()), name.to_string());
    }
    match test.name.split_once("::") {
        Some((classname, name)) if !classname.is_empty() => {
            (Some(classname.to_string()), name.to_string())
        }
        _ => (None, test.name.clone()),
    }
}

/// The job's figures, as `flaky-detector.*` properties of the suite.
fn properties(summary: &Summary) -> Vec<(&'static str, String)> {
    let mut properties = vec![
        ("flaky-detector.repo", summary.repo.clone()),
        ("flaky-detector.test_command", summary.test_command.clone()),
        ("flaky-detector.verdict", summary.verdict.to_string()),
        ("flaky-detector.severity", summary.severity.to_string()),
        ("flaky-detector.runs", summary.total_runs.to_string()),
        ("flaky-detector.failures", summary.failures.to_string()),
        ("flaky-detector.repro_rate", summary.repro_rate.to_string()),
        (
            "flaky-detector.repro_rate_95ci",
            format!("{}-{}", summary.ci_low, summary.ci_high),
        ),
    ];
    let seeds = summary.results.iter().map(|r| r.seed);
    if let (Some(low), Some(high)) = (seeds.clone().min(), seeds.max()) {
        properties.push(("flaky-detector.seeds", format!("{low}-{high}")));
    }
    let optional = [
        ("flaky-detector.ref", summary.git_ref.clone()),
        (
            "flaky-detector.commit",
            summary.commit.clone().or(summary.commit_sha.clone()),
        ),
        (
            "flaky-detector.classification",
            summary.classification.map(|c| name_of(c).to_string()),
        ),
        ("flaky-detector.reproduce", summary.reproduce.clone()),
    ];
    properties.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v))),
    );
    properties
}

/// The writer, with the document's elements as methods. Writing into a `Vec` cannot fail.
struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn event(&mut self, event: Event<'_>) {
        self.0
            .write_event(event)
            .expect("writing into a Vec cannot fail");
    }

    fn properties(&mut self, properties: &[(&str, String)]) {
        self.event(Event::Start(BytesStart::new("properties")));
        for (name, value) in properties {
            let mut property = BytesStart::new("property");
            property.push_attribute(("name", *name));
            property.push_attribute(("value", attribute(value).as_ref()));
            self.event(Event::Empty(property));
        }
        self.event(Event::End(BytesEnd::new("properties")));
    }

    /// One `<testcase>`. Surefire's order: `failure`, `rerunFailure`s, `flakyFailure`s. Its
    /// `time` is per run (the runner's mean for a test; 0 when its report gives none).
    fn case(&mut self, case: &Case<'_>, share: usize) {
        let mut start = BytesStart::new("testcase");
        start.push_attribute(("name", attribute(&case.name).as_ref()));
        if let Some(classname) = &case.classname {
            start.push_attribute(("classname", attribute(classname).as_ref()));
        }
        start.push_attribute(("time", seconds(case.seconds).as_str()));
        if case.outcome == CaseOutcome::Passed {
            self.event(Event::Empty(start));
            return;
        }
        self.event(Event::Start(start));
        let (first, rest) = match (case.outcome, case.attempts.split_first()) {
            (CaseOutcome::Failed, Some((first, rest))) => (Some(*first), rest),
            _ => (None, case.attempts.as_slice()),
        };
        match (case.outcome, first) {
            (CaseOutcome::Failed, Some(run)) => self.failure(case, run, share),
            (CaseOutcome::Failed, None) => self.text_element(
                failure_start(
                    "failure",
                    case.message.unwrap_or("failed in every run"),
                    "failure",
                ),
                case.message.unwrap_or(""),
            ),
            _ => {}
        }
        let tag = match case.outcome {
            CaseOutcome::Failed => "rerunFailure",
            _ => "flakyFailure",
        };
        for run in rest {
            self.attempt(tag, case, Some(run), share);
        }
        if case.outcome == CaseOutcome::Flaky && rest.is_empty() {
            self.attempt(tag, case, None, share);
        }
        self.event(Event::End(BytesEnd::new("testcase")));
    }

    /// The first failed run of a test that failed in every run: `<failure>`, whose body is
    /// the run's output tail (the schema gives it no `stackTrace` or `system-out`).
    fn failure(&mut self, case: &Case<'_>, run: &RunResult, share: usize) {
        let start = failure_start("failure", &message(case, Some(run)), kind(run));
        self.text_element(start, &trace(run, &case.name, share));
    }

    /// A `rerunFailure` or `flakyFailure`: the attempt's message, its output tail as
    /// `stackTrace` (required), then its stdout and stderr.
    fn attempt(&mut self, tag: &str, case: &Case<'_>, run: Option<&RunResult>, share: usize) {
        let kind = run.map_or("failure", kind);
        self.event(Event::Start(failure_start(tag, &message(case, run), kind)));
        let stack = run.map(|r| trace(r, &case.name, share)).unwrap_or_default();
        self.text_element(BytesStart::new("stackTrace"), &stack);
        if let Some(run) = run {
            if !run.stdout.is_empty() {
                self.text_element(BytesStart::new("system-out"), tail(&run.stdout, share));
            }
            if !run.stderr.is_empty() {
                self.text_element(BytesStart::new("system-err"), tail(&run.stderr, share));
            }
        }
        self.event(Event::End(BytesEnd::new(tag.to_string())));
    }

    fn text_element(&mut self, start: BytesStart<'_>, text: &str) {
        let end = BytesEnd::new(String::from_utf8_lossy(start.name().as_ref()).into_owned());
        self.event(Event::Start(start));
        let text = text_node(text);
        if !text.is_empty() {
            self.event(Event::Text(BytesText::new(&text)));
        }
        self.event(Event::End(end));
    }
}

fn failure_start<'a>(tag: &'a str, message: &str, kind: &str) -> BytesStart<'a> {
    let mut start = BytesStart::new(tag);
    start.push_attribute(("message", attribute(message).as_ref()));
    start.push_attribute(("type", kind));
    start
}

/// `type`: what ended the attempt (Surefire puts an exception class there, which a run's
/// exit does not have).
fn kind(run: &RunResult) -> &'static str {
    if run.timed_out {
        "timeout"
    } else if run.signal.is_some() {
        "signal"
    } else {
        "failure"
    }
}

/// "attempt 3, seed 16964, 0.412 s: AssertionError: …": which run, replayable by its seed,
/// and the test's first failure line. The summary keeps that line once per test case, from
/// its first failed run, so a later attempt quotes it as such; each run's own account is in
/// its `stackTrace`.
fn message(case: &Case<'_>, run: Option<&RunResult>) -> String {
    let Some(run) = run else {
        return case.message.unwrap_or("failed").to_string();
    };
    let how = match (run.timed_out, run.signal, run.exit_code) {
        (true, _, _) => "timed out".to_string(),
        (_, Some(signal), _) => format!("killed by signal {signal}"),
        (_, _, Some(code)) => format!("exit code {code}"),
        _ => "failed".to_string(),
    };
    let at = format!(
        "attempt {}, seed {}, {} s",
        run.attempt,
        run.seed,
        seconds(run.duration_ms as f64 / 1000.0)
    );
    let first = case.attempts.first().map(|r| r.attempt) == Some(run.attempt);
    match case.message {
        Some(text) if first => format!("{at}: {text}"),
        Some(text) => format!("{at}: {how} (first failure: {text})"),
        None => format!("{at}: {how}"),
    }
}

/// The run's output (stdout then stderr) from the first line naming the test case, where a
/// runner's account of it starts (pytest's `___ test_x ___`, `--- FAIL: TestX`), to the end;
/// all of it when no line names it. The whole output is the attempt's `system-out`.
fn trace(run: &RunResult, name: &str, share: usize) -> String {
    let output = match (run.stdout.trim_end(), run.stderr.trim_end()) {
        (out, "") => out.to_string(),
        ("", err) => err.to_string(),
        (out, err) => format!("{out}\n{err}"),
    };
    let from = match output.find(name) {
        Some(at) if !name.is_empty() => output[..at].rfind('\n').map_or(0, |line| line + 1),
        _ => 0,
    };
    tail(&output[from..], share).to_string()
}

mod text;

#[cfg(test)]
mod tests;

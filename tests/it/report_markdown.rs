//! The report body as each channel gets it, snapshot-tested on fixed summaries (stable,
//! flaky with two tests, always failing, a failed install, timeouts), and fitted to each
//! API's limits when a job has thousands of failing tests.

use crate::support::http as ci_support;

use ci_support::summary;
use flaky_detector::report::markdown::{Body, GITHUB, Level, fit, render};
use flaky_detector::report::{COMMENT_LIMIT, discord, slack};
use serde_json::Value;

fn github(kind: &str) -> String {
    fit(&Body::of(&summary(kind)), GITHUB, COMMENT_LIMIT)
}

#[test]
fn stable() {
    insta::assert_snapshot!(github("stable"));
}

#[test]
fn flaky_with_two_tests() {
    insta::assert_snapshot!(github("flaky"));
}

#[test]
fn always_failing() {
    insta::assert_snapshot!(github("always-failing"));
}

#[test]
fn install_failure() {
    insta::assert_snapshot!(github("install-failure"));
}

#[test]
fn timeouts() {
    insta::assert_snapshot!(github("timeouts"));
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

#[test]
fn slack_message_for_a_flaky_job() {
    insta::assert_snapshot!(pretty(&slack::payload(&Body::of(&summary("flaky")))));
}

#[test]
fn discord_message_for_a_flaky_job() {
    insta::assert_snapshot!(pretty(&discord::payload(&Body::of(&summary("flaky")))));
}

/// A job with 3000 failing tests with long names, a long reproduce line and long output.
fn huge() -> Body {
    let mut s = summary("flaky");
    let template = s.tests[0].clone();
    s.tests = (0..3000)
        .map(|i| {
            let mut t = template.clone();
            t.name = format!("tests/test_generated.py::test_case_{i}_{}", "x".repeat(200));
            t.failing_seeds = (0..50).collect();
            t
        })
        .collect();
    s.failing_seeds = (0..1000).collect();
    s.reproduce = Some(format!("TEST_SEED=3 {}", "pytest ".repeat(12000)));
    s.results[1].stderr = "E   assertion failed\n".repeat(5000);
    Body::of(&s)
}

#[test]
fn every_channel_stays_within_its_limits() {
    let body = huge();
    assert!(render(&body, GITHUB, Level::Full).chars().count() > COMMENT_LIMIT);
    let comment = fit(&body, GITHUB, COMMENT_LIMIT);
    assert!(comment.chars().count() <= COMMENT_LIMIT);
    assert!(comment.starts_with("<!-- flaky-detector -->\n"));

    let message = slack::payload(&body);
    let blocks = message["attachments"][0]["blocks"]
        .as_array()
        .expect("blocks");
    assert!(blocks.len() <= slack::MAX_BLOCKS);
    let header = blocks[0]["text"]["text"].as_str().expect("header text");
    assert!(header.chars().count() <= slack::HEADER_LIMIT);
    for block in &blocks[1..] {
        let text = block["text"]["text"].as_str().expect("section text");
        assert!(
            text.chars().count() <= slack::SECTION_LIMIT,
            "{} chars",
            text.len()
        );
    }

    let message = discord::payload(&body);
    let embed = &message["embeds"][0];
    let length = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(length(&embed["description"]) <= discord::DESCRIPTION_LIMIT);
    assert!(length(&embed["title"]) <= discord::TITLE_LIMIT);
    let total =
        length(&embed["title"]) + length(&embed["description"]) + length(&embed["footer"]["text"]);
    assert!(total <= discord::EMBED_LIMIT, "{total}");
}

#[test]
fn the_colour_follows_the_severity() {
    let colour =
        |kind: &str| discord::payload(&Body::of(&summary(kind)))["embeds"][0]["color"].clone();
    assert_eq!(colour("stable"), 0x2EA043);
    assert_eq!(colour("flaky"), 0xDB6D28);
    assert_eq!(colour("always-failing"), 0x82071E);
    assert_eq!(
        slack::payload(&Body::of(&summary("flaky")))["attachments"][0]["color"],
        "#db6d28"
    );
}

/// Issue 12, finding 7: a summary whose every repository string is hostile: test names with
/// line breaks, pipes, backticks and HTML, a command and an env value with a fence and a
/// line break, a warning carrying HTML, a link and a mention.
fn hostile() -> Body {
    let mut s = summary("flaky");
    s.tests[0].name = "tests/x.py::test_a\n| injected | row |\n<b>bold</b> ```".into();
    s.tests[0].first_failure = Some("boom `code` <script>alert(1)</script>\n# heading".into());
    s.tests[1].name = "tests/y.py::test_`tick`|pipe".into();
    s.test_command = "pytest -k 'a\n```\n# not a heading' `whoami`".into();
    s.reproduce = Some("TOKEN='````\nrm -rf ~' pytest -k '```'".into());
    s.warnings = vec![
        ".flaky-detector.yml: unknown key `<img src=x onerror=alert(1)>` was ignored".into(),
        "see [click here](https://evil.example) @everyone <!channel> *loud* a`b".into(),
    ];
    s.results[1].stderr = "line\n````\n</details><h1>escaped</h1>\n".into();
    Body::of(&s)
}

/// The fence that opens the block right after `intro`, and the block's text.
fn fenced_after<'a>(text: &'a str, intro: &str) -> (&'a str, &'a str) {
    let start = text.find(intro).expect("intro") + intro.len() + 1;
    let rest = &text[start..];
    let fence_end = rest.find(|c| c != '`').expect("fence");
    let fence = &rest[..fence_end];
    let body_start = rest.find('\n').expect("fence line") + 1;
    let close = rest[body_start..]
        .find(&format!("\n{fence}\n"))
        .expect("closing fence");
    (fence, &rest[body_start..body_start + close])
}

#[test]
fn issue_12_finding_7_hostile_repository_strings_on_github() {
    let comment = fit(&hostile(), GITHUB, COMMENT_LIMIT);
    insta::assert_snapshot!(comment);
    // Table rows stay rows: every line of the table has the header's six unescaped pipes.
    let rows: Vec<&str> = comment.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 2 + 2, "{comment}");
    for row in &rows {
        assert_eq!(row.replace("\\|", "").matches('|').count(), 6, "{row}");
    }
    assert!(!comment.lines().any(|l| l.starts_with("| injected")));
    // The reproduce line is whole inside a fence longer than any backtick run in it.
    let (fence, code) = fenced_after(&comment, "Reproduce the first failing run in a checkout:");
    assert_eq!(fence, "`````");
    assert_eq!(code, "TOKEN='````\nrm -rf ~' pytest -k '```'");
    // HTML and links from the repository are inert: literal inside code spans and fences,
    // escaped outside them.
    assert!(
        comment.contains("unknown key `<img src=x onerror=alert(1)>` was ignored"),
        "{comment}"
    );
    assert!(
        comment.contains(
            "see \\[click here\\](https://evil.example) @&#8203;everyone &lt;!channel&gt; \\*loud\\* a\\`b"
        ),
        "{comment}"
    );
    assert!(
        comment.contains("`: `boom 'code' <script>alert(1)</script> # heading`\n"),
        "{comment}"
    );
    // The run's output cannot close its fence (and with it the `<details>` block).
    let (fence, output) = fenced_after(
        &comment,
        "<summary>Output of the first failing run (seed 3)</summary>\n",
    );
    assert_eq!(fence, "`````");
    assert!(output.contains("</details><h1>escaped</h1>"), "{output}");
}

#[test]
fn issue_12_finding_7_hostile_repository_strings_on_slack_and_discord() {
    let body = hostile();
    let slack = slack::payload(&body);
    insta::assert_snapshot!(pretty(&slack));
    let text: String = slack["attachments"][0]["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Slack parses `<…>` as links and mentions: none may come from the repository.
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    // Slack's fence cannot be lengthened: backticks inside a block become quotes.
    let (_, code) = fenced_after(&text, "Reproduce the first failing run in a checkout:");
    assert!(!code.contains('`'), "{code}");

    let discord = discord::payload(&body);
    insta::assert_snapshot!(pretty(&discord));
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    let description = discord["embeds"][0]["description"].as_str().expect("text");
    assert!(!description.contains("[click here](https"), "{description}");
    let (fence, code) = fenced_after(
        description,
        "Reproduce the first failing run in a checkout:",
    );
    assert_eq!(fence, "`````");
    assert_eq!(code, "TOKEN='````\nrm -rf ~' pytest -k '```'");
}

/// A test name or warning naming `@org/team` (or `@everyone`) must not notify anyone when the
/// comment is posted: outside code spans the `@` is followed by a zero-width space.
#[test]
fn mentions_in_repository_strings_notify_nobody_on_github() {
    let mut s = summary("flaky");
    s.warnings = vec!["owned by @acme/payments, ask @octocat".into()];
    let comment = fit(&Body::of(&s), GITHUB, COMMENT_LIMIT);
    assert!(
        comment.contains("owned by @&#8203;acme/payments, ask @&#8203;octocat"),
        "{comment}"
    );
    assert!(!comment.contains("@acme"), "{comment}");
}

/// The polluter search's finding reaches every channel: the sentence and the command that
/// replays the failing order.
#[test]
fn an_order_dependent_test_is_reported_with_its_polluter() {
    let mut s = summary("flaky");
    s.order_dependence = vec![flaky_detector::summary::OrderFinding {
        test: "tests/test_b.py::test_b".into(),
        role: flaky_detector::summary::OrderRole::Polluter,
        tests: vec!["tests/test_a.py::test_a".into()],
        sentence: "`tests/test_b.py::test_b` fails when `tests/test_a.py::test_a` runs first"
            .into(),
        reproduce: Some("python -m pytest tests/test_a.py::test_a tests/test_b.py::test_b".into()),
        search_runs: 4,
    }];
    let body = Body::of(&s);
    let comment = fit(&body, GITHUB, COMMENT_LIMIT);
    assert!(
        comment.contains(
            "- 🔀 order: `tests/test_b.py::test_b` fails when `tests/test_a.py::test_a` runs \
             first; reproduce: `python -m pytest tests/test_a.py::test_a tests/test_b.py::test_b`"
        ),
        "{comment}"
    );
    let slack = pretty(&slack::payload(&body));
    assert!(slack.contains("🔀 order:"), "{slack}");
}

/// Every test passed but a coverage gate failed every run: CI is red, so the step gets an
/// error mark naming the gate instead of a "Stable" notice.
#[test]
fn a_command_failure_gets_its_own_annotation() {
    use flaky_detector::analysis::command_failure::FailureKind;
    use flaky_detector::report::step_summary::annotations;
    let mut s = summary("stable");
    s.test_command = "pytest --cov".into();
    s.command_failure = Some(flaky_detector::summary::CommandFailure {
        runs: s.total_runs,
        kind: FailureKind::CoverageGate,
        cause: "FAIL Required test coverage of 90% not reached".into(),
    });
    assert_eq!(
        annotations(&s),
        vec![
            "::error title=Command failure::`pytest --cov` fails on every run (coverage gate): \
             FAIL Required test coverage of 90%25 not reached"
        ]
    );
    s.command_failure.as_mut().expect("set").runs = 2;
    let marks = annotations(&s);
    assert!(
        marks[0].starts_with("::warning title=Command failure::`pytest --cov` fails in 2 of"),
        "{marks:?}"
    );
}

/// The terminal summary says how the runs started (issue 15): a fork server's runs are not
/// plain runs, and a person comparing timings needs to know.
#[test]
fn the_terminal_summary_names_the_build_once_mode() {
    let mut s = summary("flaky");
    s.build_once = Some("pytest fork server (hash seed renewed every 25 runs)".into());
    let text = flaky_detector::cli::human::render(&s);
    assert!(
        text.contains("\n  runs:       pytest fork server (hash seed renewed every 25 runs)\n"),
        "{text}"
    );
    s.build_once = None;
    assert!(!flaky_detector::cli::human::render(&s).contains("  runs:  "));
}

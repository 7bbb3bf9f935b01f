//! The report body as each channel gets it, snapshot-tested on fixed summaries (stable,
//! flaky with two tests, always failing, a failed install, timeouts), and fitted to each
//! API's limits when a job has thousands of failing tests.

#[path = "ci_support/mod.rs"]
mod ci_support;

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

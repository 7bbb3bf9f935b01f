//! The report on Slack ([`payload`], [`post`]): an incoming-webhook message whose
//! attachment carries the severity colour as its bar and the body as Block Kit blocks: a
//! header, then sections of at most 3000 characters each (Slack's limit), at most 50
//! blocks in all.

use serde_json::{Value, json};

use super::markdown::{Body, SLACK, cut, fit};
use super::send::{ReportError, Sender};
use crate::secrets::SecretUrl;

/// Slack's limits: header text, section text, blocks per message.
pub const HEADER_LIMIT: usize = 150;
pub const SECTION_LIMIT: usize = 3000;
pub const MAX_BLOCKS: usize = 50;
/// All the sections together: Slack truncates messages far below 50 × 3000 characters.
pub const MESSAGE_LIMIT: usize = 12_000;

/// The webhook message for `body`.
pub fn payload(body: &Body) -> Value {
    let title = format!("{} {}", body.badge.emoji, body.headline);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&title, HEADER_LIMIT), "emoji": true}
    })];
    for section in sections(&fit(body, SLACK, MESSAGE_LIMIT)) {
        if blocks.len() == MAX_BLOCKS {
            break;
        }
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": section}
        }));
    }
    json!({
        // Shown in notifications and by clients without blocks.
        "text": format!("flaky-detector: {}", body.headline),
        "attachments": [{
            "color": format!("#{:06x}", body.badge.colour),
            "blocks": blocks,
        }],
    })
}

/// Paragraphs packed into sections of at most [`SECTION_LIMIT`] characters; a paragraph
/// longer than that is cut. A code block is never split across two sections.
fn sections(text: &str) -> Vec<String> {
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in paragraphs(text) {
        let paragraph = cut(&paragraph, SECTION_LIMIT);
        let joined = current.chars().count() + 2 + paragraph.chars().count();
        if !current.is_empty() && joined > SECTION_LIMIT {
            sections.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(&paragraph);
    }
    if !current.trim().is_empty() {
        sections.push(current);
    }
    sections
}

/// Blank-line separated paragraphs, keeping fenced code blocks whole.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if line.trim().is_empty() && !in_fence {
            if !current.trim().is_empty() {
                out.push(std::mem::take(&mut current).trim_end().to_string());
            }
            current.clear();
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        out.push(current.trim_end().to_string());
    }
    out
}

/// Posts the message; Slack answers `ok` with 200.
pub async fn post(sender: &Sender, url: &SecretUrl, payload: &Value) -> Result<(), ReportError> {
    sender
        .send("Slack webhook", || {
            sender.http.post(url.expose()).json(payload)
        })
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_packed_into_sections_within_the_limit() {
        let paragraph = "word ".repeat(200);
        let text = format!(
            "{paragraph}\n\n```\n{}\n```\n\n{}",
            "x\n".repeat(10),
            "y".repeat(5000)
        );
        let sections = sections(&text);
        // The words and the code block share a section; the long paragraph is cut.
        assert_eq!(sections.len(), 2);
        assert!(sections[1].ends_with("… (cut)"));
        assert!(sections.iter().all(|s| s.chars().count() <= SECTION_LIMIT));
        let fenced = sections
            .iter()
            .find(|s| s.contains("```"))
            .expect("code block");
        assert_eq!(fenced.matches("```").count(), 2, "a code block was split");
    }
}

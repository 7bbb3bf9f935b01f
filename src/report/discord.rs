//! The report on Discord ([`payload`], [`post`]): a webhook message with one embed, its
//! colour set by severity, the headline as its title and the body as its description,
//! fitted to Discord's limits (title 256, description 4096, footer 2048, 6000 in all).

use serde_json::{Value, json};

use super::markdown::{Body, DISCORD, cut, fit};
use super::send::{ReportError, Sender};
use crate::secrets::SecretUrl;

pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;
pub const FOOTER_LIMIT: usize = 2048;
/// All of an embed's text together.
pub const EMBED_LIMIT: usize = 6000;

/// The webhook message for `body`.
pub fn payload(body: &Body) -> Value {
    let title = cut(
        &format!("{} {}", body.badge.emoji, body.headline),
        TITLE_LIMIT,
    );
    let footer = cut(
        &format!("flaky-detector · {}", body.badge.message),
        FOOTER_LIMIT,
    );
    let room = EMBED_LIMIT - title.chars().count() - footer.chars().count();
    let description = fit(body, DISCORD, DESCRIPTION_LIMIT.min(room));
    json!({
        "username": "flaky-detector",
        // Repository text (test names, warnings) must not ping `@everyone` or a role.
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": title,
            "description": description,
            "color": body.badge.colour,
            "footer": {"text": footer},
        }],
    })
}

/// Posts the message; Discord answers 204 (or 200 with `?wait=true`).
pub async fn post(sender: &Sender, url: &SecretUrl, payload: &Value) -> Result<(), ReportError> {
    sender
        .send("Discord webhook", || {
            sender.http.post(url.expose()).json(payload)
        })
        .await
        .map(|_| ())
}

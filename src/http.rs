//! What every HTTP client in the crate (the RunPod worker and client, report channels) says
//! about a request the same way: an error on one line without its URL ([`describe`]) and the
//! wait a `Retry-After` header asks for ([`retry_after`]). Kept below `report` and `runpod`
//! so neither imports the other for them.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;

/// A request error on one line with its causes ("tcp connect error: Connection refused"),
/// without the URL, which may carry a job id or a token in its query.
pub fn describe(error: reqwest::Error) -> String {
    crate::errors::one_line(&error.without_url())
}

/// Seconds asked for by a `Retry-After` header (the HTTP-date form is not used by RunPod,
/// GitHub, Slack or Discord, and falls back to the caller's own wait).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

//! [`parse_seconds`], the value parser of every flag that takes a duration in seconds
//! (`worker`, `serve`, `submit`, `report`), so they all accept and refuse the same text.

use std::time::Duration;

/// A non-negative number of seconds, fractions allowed (`0.5`); the error is clap's
/// one-line reason.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{text}` is not a non-negative number of seconds"))
}

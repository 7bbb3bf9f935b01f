//! [`parse_seconds`], the value parser of every flag that takes a duration in seconds
//! (`worker`, `serve`, `submit`, `report`), so they all accept and refuse the same text.

use std::time::Duration;

use super::error::FlagValueError;

/// A non-negative number of seconds, fractions allowed (`0.5`); the error is the one-line
/// reason clap shows.
pub fn parse_seconds(text: &str) -> Result<Duration, FlagValueError> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| FlagValueError::NotSeconds(text.to_string()))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| FlagValueError::NegativeSeconds(text.to_string()))
}

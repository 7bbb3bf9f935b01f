//! [`one_line`], which turns any error chain into the single sentence a user sees. It
//! depends on nothing in the crate, so every layer can use it.

/// The messages of `error` and its sources joined by `: `, on one line.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        // `#[error(transparent)]` repeats its source's message; say it once.
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

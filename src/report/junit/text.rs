//! Text as the JUnit document holds it: output tails cut at a character boundary, seconds
//! in Surefire's form, and attribute values and text nodes with what XML 1.0 cannot carry
//! taken out.

use std::borrow::Cow;

/// The last `max` bytes of `text`, from a character boundary.
pub(super) fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Seconds as Surefire writes them: digits, a dot, at most three decimals.
pub(super) fn seconds(value: f64) -> String {
    format!("{:.3}", value.max(0.0))
}

/// An attribute value: what a text node may hold, on one line (a parser would turn a line
/// break in an attribute into a space anyway).
pub(super) fn attribute(text: &str) -> Cow<'_, str> {
    let text = text_node(text);
    if text.contains(['\n', '\r', '\t']) {
        Cow::Owned(text.replace(['\n', '\r', '\t'], " "))
    } else {
        text
    }
}

/// `text` with what XML 1.0 cannot hold taken out: ANSI escape sequences (colours) dropped,
/// other control characters (and U+FFFE, U+FFFF) shown as `�`. Escaping `<`, `&` and quotes
/// is the writer's.
pub(super) fn text_node(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        !matches!(
            c,
            '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}'
        )
    };
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // A CSI sequence: parameters and intermediates, then one final byte.
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        } else if allowed(c) {
            clean.push(c);
        } else {
            clean.push('\u{FFFD}');
        }
    }
    Cow::Owned(clean)
}

//! The report body in each channel's Markdown: [`render`] writes a [`Body`] in a dialect
//! ([`GITHUB`], [`SLACK`], [`DISCORD`]) at a level of detail ([`Level`]); [`fit`] drops
//! detail level by level until it fits a channel's limit, and only then cuts ([`cut`]).

use std::fmt::Write;

pub use super::body::{Badge, Body, Detail, FailingTestRow, TriageRow, code};
use super::body::{MAX_SEEDS, MAX_TESTS, seed_list};

/// The hidden line by which a pull request comment is known as ours, to be edited rather
/// than repeated.
pub const MARKER: &str = "<!-- flaky-detector -->";

/// How a channel writes Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// `**` (GitHub, Discord) or `*` (Slack).
    pub bold: &'static str,
    /// Tables and `<details>` (GitHub only); elsewhere tests are a list and details left out.
    pub html: bool,
    /// A language after an opening fence (` ```sh `); Slack would print it.
    pub fence_language: bool,
    /// Slack's `&`, `<`, `>` escapes.
    pub escape_angles: bool,
}

pub const GITHUB: Dialect = Dialect {
    bold: "**",
    html: true,
    fence_language: true,
    escape_angles: false,
};
pub const DISCORD: Dialect = Dialect {
    bold: "**",
    html: false,
    fence_language: true,
    escape_angles: false,
};
pub const SLACK: Dialect = Dialect {
    bold: "*",
    html: false,
    fence_language: false,
    escape_angles: true,
};

/// How much of the body to write, from everything down to the headline and rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Full,
    NoDetails,
    Brief,
    Minimal,
}

const LEVELS: [Level; 4] = [Level::Full, Level::NoDetails, Level::Brief, Level::Minimal];

/// Writes `body` in `dialect`, with as much as `level` allows.
pub fn render(body: &Body, dialect: Dialect, level: Level) -> String {
    let text = |t: &str| escape(t, dialect);
    let mut out = String::new();
    if dialect.html {
        let _ = writeln!(out, "{MARKER}");
        let _ = writeln!(
            out,
            "### ![{}: {}]({}) {}\n",
            body.badge.label,
            body.badge.message,
            body.badge.image_url(),
            body.headline
        );
    }
    if let Some((header, rows)) = &body.triage {
        triage(&mut out, header, rows, dialect);
    }
    // The rate is our own wording, with bold marks the dialect rewrites.
    let _ = writeln!(out, "{}", body.rate.replace("**", dialect.bold));
    let _ = writeln!(out, "\n{}\n", text(&body.context.join(" · ")));
    let notes = if level == Level::Minimal {
        3
    } else {
        usize::MAX
    };
    for note in body.notes.iter().take(notes) {
        let _ = writeln!(out, "- {}", text(note));
    }
    if !body.notes.is_empty() {
        out.push('\n');
    }
    if level < Level::Minimal {
        tests(&mut out, body, dialect, level);
    }
    if !body.seeds.is_empty() {
        let max = if level >= Level::Brief { 10 } else { MAX_SEEDS };
        let _ = writeln!(
            out,
            "{b}Failing seeds:{b} {}\n",
            seed_list(&body.seeds, max),
            b = dialect.bold
        );
    }
    if let Some(reproduce) = &body.reproduce {
        let _ = writeln!(
            out,
            "Reproduce the first failing run in a checkout:\n{}\n",
            code_block(reproduce, dialect, "sh")
        );
    }
    if let (Some(replay), true) = (&body.replay, level < Level::Brief) {
        let _ = writeln!(
            out,
            "Replay the failing seeds:\n{}\n",
            code_block(replay, dialect, "sh")
        );
    }
    if dialect.html && level == Level::Full {
        for detail in &body.details {
            let _ = writeln!(
                out,
                "<details>\n<summary>{}</summary>\n",
                html_escape(&one_line(&detail.title))
            );
            for line in &detail.lines {
                let _ = writeln!(out, "- {}", escape(line, dialect));
            }
            if let Some(output) = &detail.output {
                let _ = writeln!(out, "{}", code_block(output, dialect, "text"));
            }
            let _ = writeln!(out, "\n</details>\n");
        }
    }
    if dialect.html {
        let _ = writeln!(out, "<sub>Reported by flaky-detector</sub>");
    }
    out.trim_end().to_string() + "\n"
}

/// A triage's verdicts, first: a table on GitHub, a list elsewhere; then the head side's
/// runs follow as any job's report.
fn triage(out: &mut String, header: &str, rows: &[TriageRow], dialect: Dialect) {
    let b = dialect.bold;
    let _ = writeln!(
        out,
        "{b}Is this pull request to blame?{b} {}\n",
        escape(header, dialect)
    );
    if dialect.html {
        let _ = writeln!(
            out,
            "| Verdict | Test | Failed at head | Failed at base | Evidence |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for row in rows {
            let _ = writeln!(
                out,
                "| {b}{}{b} | {} | {} | {} | {} |",
                row.verdict,
                code(&row.test),
                row.head,
                row.base,
                escape(&row.evidence, dialect).replace('|', "\\|")
            );
        }
    } else {
        for row in rows {
            let _ = writeln!(
                out,
                "- {b}{}{b} {}: {}",
                row.verdict,
                code(&row.test),
                escape(&row.evidence, dialect)
            );
        }
    }
    let _ = writeln!(out, "\n{b}The runs at head:{b}\n");
}

fn tests(out: &mut String, body: &Body, dialect: Dialect, level: Level) {
    let max = if level >= Level::Brief { 10 } else { MAX_TESTS };
    if body.tests.is_empty() {
        if body.passing_tests > 0 {
            let _ = writeln!(out, "_{} test(s) passed every run._\n", body.passing_tests);
        }
        return;
    }
    if dialect.html {
        let _ = writeln!(
            out,
            "| Test | Verdict | Failed | Rate (95% CI) | Failing seeds |\n| --- | --- | ---: | --- | --- |"
        );
        for t in body.tests.iter().take(max) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} ({}) | {} |",
                code(&t.name).replace('|', "\\|"),
                t.verdict,
                t.failed,
                t.rate,
                t.interval,
                t.seeds
            );
        }
    } else {
        for t in body.tests.iter().take(max) {
            let _ = writeln!(
                out,
                "• {} {}: {} runs failed ({}, 95% CI {}), seeds {}",
                escape(&code(&t.name), dialect),
                t.verdict,
                t.failed,
                t.rate,
                t.interval,
                t.seeds
            );
        }
    }
    let hidden = body.tests.len().saturating_sub(max);
    let mut counts = Vec::new();
    if hidden > 0 {
        counts.push(format!("{hidden} more failing test(s) not shown"));
    }
    if body.passing_tests > 0 {
        counts.push(format!("{} test(s) passed every run", body.passing_tests));
    }
    if !counts.is_empty() {
        let _ = writeln!(out, "\n_{}._", counts.join("; "));
    }
    out.push('\n');
    if level == Level::Full {
        for t in body.tests.iter().take(3) {
            if let Some(message) = &t.first_failure {
                let _ = writeln!(
                    out,
                    "- {}: {}",
                    escape(&code(&t.name), dialect),
                    escape(&code(message), dialect)
                );
            }
        }
        if body.tests.iter().take(3).any(|t| t.first_failure.is_some()) {
            out.push('\n');
        }
    }
}

/// A line of text that may hold repository strings (test names, messages, warnings), made
/// inert for `dialect`: one line; code spans (between backticks, which [`code`] guarantees
/// hold none) kept literal; everything else escaped so it cannot open a tag, a link, a
/// mention or emphasis. GitHub gets HTML entities and backslash escapes, Discord backslash
/// escapes, Slack its `&amp;`/`&lt;`/`&gt;` (also inside code, where Slack still parses
/// them). A backtick left unpaired is escaped too.
fn escape(text: &str, dialect: Dialect) -> String {
    let text = one_line(text);
    let parts: Vec<&str> = text.split('`').collect();
    let last = parts.len() - 1;
    // An odd number of backticks: the last one opens nothing.
    let paired = last.is_multiple_of(2);
    let mut out = String::with_capacity(text.len());
    for (i, part) in parts.iter().enumerate() {
        let inside = i % 2 == 1 && i != last;
        if i > 0 {
            let opens_unpaired = !paired && i == last;
            out.push_str(match (opens_unpaired, dialect.escape_angles) {
                (false, _) => "`",
                (true, true) => "'",
                (true, false) => "\\`",
            });
        }
        if inside {
            out.push_str(&slack_entities(part, dialect));
        } else {
            out.push_str(&escape_plain(part, dialect));
        }
    }
    out
}

/// Text outside code spans.
fn escape_plain(text: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let names_someone = chars.peek().is_some_and(|n| n.is_alphanumeric());
        match c {
            '&' if dialect.html || dialect.escape_angles => out.push_str("&amp;"),
            '<' if dialect.html || dialect.escape_angles => out.push_str("&lt;"),
            '>' if dialect.html || dialect.escape_angles => out.push_str("&gt;"),
            // A zero-width space after `@` keeps `@org/team` in a test name from notifying
            // anyone on GitHub; it still reads (and renders) as the name.
            '@' if dialect.html && names_someone => out.push_str("@&#8203;"),
            '\\' | '*' | '_' | '[' | ']' | '~' | '|' | '<' | '>' if !dialect.escape_angles => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Slack parses `&`, `<` and `>` even inside code; the other dialects show code literally.
fn slack_entities(text: &str, dialect: Dialect) -> String {
    if dialect.escape_angles {
        html_escape(text)
    } else {
        text.to_string()
    }
}

/// Line breaks and other control characters as spaces: a repository string must not end a
/// table row, a list item or a heading early.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A fenced block holding `text` verbatim. GitHub and Discord get a fence longer than any
/// backtick run inside, so nothing in the text can close it; Slack has only the
/// three-backtick fence, so its backticks become `'` (and `&<>` entities).
fn code_block(text: &str, dialect: Dialect, language: &str) -> String {
    if dialect.escape_angles {
        return format!("```\n{}\n```", html_escape(&text.replace('`', "'")));
    }
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let language = if dialect.fence_language { language } else { "" };
    format!("{fence}{language}\n{text}\n{fence}")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The fullest rendering no longer than `limit` characters; when even the minimal one is
/// longer, it is cut (on a character boundary) with a note saying so.
pub fn fit(body: &Body, dialect: Dialect, limit: usize) -> String {
    for level in LEVELS {
        let text = render(body, dialect, level);
        if text.chars().count() <= limit {
            return text;
        }
    }
    cut(&render(body, dialect, Level::Minimal), limit)
}

/// `text` cut to at most `limit` characters, ending with `… (cut)` when it was longer.
pub fn cut(text: &str, limit: usize) -> String {
    const MORE: &str = "… (cut)";
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let keep = limit.saturating_sub(MORE.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(MORE);
    out.chars().take(limit).collect()
}

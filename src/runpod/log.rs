//! Logging for the worker and the server: on RunPod (`RUNPOD_ENDPOINT_ID` set) each line is
//! `{"requestId": <job id|null>, "message": …, "level": "INFO"}` on stdout, as the SDK
//! writes them (§10), so RunPod's log view groups lines by job; elsewhere the usual text on
//! stderr. The job id comes from the `request_id` field of an enclosing span.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// RunPod cuts longer messages in the middle; so do we.
const MAX_MESSAGE: usize = 4096;

/// Installs the global subscriber. `RUST_LOG` overrides `default_level`.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let on_runpod = std::env::var_os("RUNPOD_ENDPOINT_ID").is_some_and(|v| !v.is_empty());
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if on_runpod {
        registry.with(RunpodLines).try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
    // Only fails when a subscriber is already set, which then keeps logging.
    let _ = installed;
}

/// The job id a span carries, kept in the span's extensions.
struct RequestId(String);

/// A layer that writes §10's JSON lines to stdout.
struct RunpodLines;

impl<S> Layer<S> for RunpodLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut visitor = FieldText::default();
        attrs.record(&mut visitor);
        if let (Some(request_id), Some(span)) = (visitor.request_id, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = FieldText::default();
        event.record(&mut fields);
        let request_id = fields.request_id.clone().or_else(|| {
            ctx.event_scope(event)?.find_map(|span| {
                span.extensions()
                    .get::<RequestId>()
                    .map(|RequestId(id)| id.clone())
            })
        });
        let line = json!({
            "requestId": request_id,
            "message": cut_middle(&fields.text()),
            "level": level_name(*event.metadata().level()),
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// The message, then the other fields as `name=value`.
#[derive(Default)]
struct FieldText {
    message: String,
    rest: String,
    request_id: Option<String>,
}

impl FieldText {
    fn text(&self) -> String {
        if self.rest.is_empty() {
            self.message.clone()
        } else {
            format!("{}{}", self.message, self.rest)
        }
    }
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "request_id" => self.request_id = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "request_id" => self.request_id = Some(format!("{value:?}")),
            "message" => self.message = format!("{value:?}"),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// Keeps the start and the end of a long message with `…` between.
fn cut_middle(text: &str) -> String {
    if text.len() <= MAX_MESSAGE {
        return text.to_string();
    }
    let keep = MAX_MESSAGE / 2 - 2;
    let mut head_end = keep;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - keep;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{}…{}", &text[..head_end], &text[tail_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_in_the_middle() {
        let text = format!("{}{}", "a".repeat(5000), "é".repeat(100));
        let cut = cut_middle(&text);
        assert!(cut.len() <= MAX_MESSAGE + 4);
        assert!(cut.starts_with("aaa") && cut.ends_with('é') && cut.contains('…'));
        assert_eq!(cut_middle("short"), "short");
    }
}

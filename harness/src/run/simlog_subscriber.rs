//! The `sim.log` subscriber: writes each enabled event as one line, byte for byte the line
//! `tracing_subscriber::fmt()` (full format, no ANSI, simulated-time stamp) would write, at a
//! fraction of its cost per span.
//!
//! Why not `fmt()`: turmoil opens a `node{name=..}` span around every host on every step (500
//! steps per simulated second at a 2 ms tick), and `fmt()` stores a fresh registry slot and a
//! freshly formatted field string for each one, then frees both: about a tenth of a
//! simulation's wall time, though a run logs only a few dozen lines. Here a span is interned:
//! two spans of the same callsite, fields and parent share one id, so opening one is a
//! formatting into a reused buffer and a lookup among the few (one per host) known spans.
//!
//! The invariant: a span's id names its (callsite, fields, parent) for the whole run, so the
//! filter layer above (`EnvFilter`, with its field directives) sees the same span for the same
//! id. Fields recorded on a span after it opens (`Span::record`) are not shown; neither
//! turmoil nor our code records any.

use crate::run::log_buffer::LogBuffer;
use crate::run::sim_time::SimTime;
use std::io::Write;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::FormatFields;

/// Distinct spans a run may intern (turmoil opens one per host; a run has a few dozen hosts).
/// Beyond it, new spans share one "span-table-full" entry.
pub const SPANS_INTERNED_MAX: usize = 4096;
/// Spans entered at once; deeper entries are counted, not shown.
pub const SPANS_ENTERED_MAX: usize = 64;
/// The name shown for spans beyond `SPANS_INTERNED_MAX`.
const SPAN_TABLE_FULL: &str = "span-table-full";

/// One interned span: what its label in a log line is made of.
struct InternedSpan {
    metadata: Option<&'static Metadata<'static>>,
    /// Its fields as `fmt()` formats them (`name="broker-1"`).
    fields: String,
    /// Its fields unescaped, as `FieldKey` writes them: what a new span is compared by.
    key: String,
    /// Index of the span it was opened in, if any.
    parent: Option<usize>,
}

impl InternedSpan {
    fn name(&self) -> &'static str {
        self.metadata
            .map_or(SPAN_TABLE_FULL, |metadata| metadata.name())
    }
}

#[derive(Default)]
struct State {
    spans: Vec<InternedSpan>,
    /// Indices of the entered spans, innermost last.
    entered: Vec<usize>,
    /// Entries beyond `SPANS_ENTERED_MAX`, so each exit pairs with its enter.
    entered_dropped: usize,
    /// Reused for a new span's fields and for each line.
    scratch: String,
    line: String,
}

/// Writes `sim.log` lines into a `LogBuffer`; put an `EnvFilter` layer over it.
pub struct SimLogSubscriber {
    buffer: LogBuffer,
    state: Mutex<State>,
}

impl SimLogSubscriber {
    pub fn new(buffer: LogBuffer) -> Self {
        SimLogSubscriber {
            buffer,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn index_of(id: &Id) -> usize {
    // Ids are indices + 1 (an id is never zero).
    (id.into_u64() - 1) as usize
}

fn id_of(index: usize) -> Id {
    Id::from_u64(index as u64 + 1)
}

fn level_label(level: &Level) -> &'static str {
    // `fmt()`'s labels, padded to five characters.
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// Writes a span's fields as an interning key: a string field as it is (escaping it, as
/// `fmt()` does, costs more than the rest of opening a span), anything else as `Debug`; each
/// value behind its length, so two different field lists never write the same key.
struct FieldKey<'a>(&'a mut String);

impl FieldKey<'_> {
    fn push(&mut self, field: &Field, value: &str) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}:{}:", field.name(), value.len());
        self.0.push_str(value);
    }
}

impl Visit for FieldKey<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

impl State {
    fn intern(&mut self, attrs: &Attributes<'_>) -> usize {
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(index_of(parent))
        } else {
            self.entered.last().copied()
        };
        self.scratch.clear();
        attrs.record(&mut FieldKey(&mut self.scratch));
        let metadata = attrs.metadata();
        let known = self.spans.iter().position(|span| {
            span.metadata.is_some_and(|m| std::ptr::eq(m, metadata))
                && span.parent == parent
                && span.key == self.scratch
        });
        if let Some(index) = known {
            return index;
        }
        if self.spans.len() + 1 < SPANS_INTERNED_MAX {
            let mut fields = String::new();
            // Formatting into a `String` cannot fail.
            let _ = DefaultFields::new().format_fields(Writer::new(&mut fields), attrs);
            self.spans.push(InternedSpan {
                metadata: Some(metadata),
                fields,
                key: self.scratch.clone(),
                parent,
            });
            return self.spans.len() - 1;
        }
        if self.spans.len() + 1 == SPANS_INTERNED_MAX {
            self.spans.push(InternedSpan {
                metadata: None,
                fields: String::new(),
                key: String::new(),
                parent: None,
            });
        }
        assert!(self.spans.len() <= SPANS_INTERNED_MAX);
        SPANS_INTERNED_MAX - 1
    }

    /// Writes the `span{fields}:` labels of `innermost` and its parents, outermost first.
    fn write_scope(&mut self, innermost: usize) {
        let mut chain = [0usize; SPANS_ENTERED_MAX];
        let mut depth = 0;
        let mut next = Some(innermost);
        while let Some(index) = next {
            if depth == SPANS_ENTERED_MAX {
                break;
            }
            chain[depth] = index;
            depth += 1;
            next = self.spans[index].parent;
        }
        for &index in chain[..depth].iter().rev() {
            let span = &self.spans[index];
            self.line.push_str(span.name());
            if !span.fields.is_empty() {
                self.line.push('{');
                self.line.push_str(&span.fields);
                self.line.push('}');
            }
            self.line.push(':');
        }
        self.line.push(' ');
    }
}

impl Subscriber for SimLogSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        // The filter layer above decides.
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        id_of(self.state().intern(attrs))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {
        // An interned span is shared: fields recorded later cannot be told apart per span.
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut state = self.state();
        let state = &mut *state;
        state.line.clear();
        let mut line = std::mem::take(&mut state.line);
        {
            let mut writer = Writer::new(&mut line);
            if SimTime.format_time(&mut writer).is_err() {
                line.push_str("<unknown time>");
            }
        }
        line.push(' ');
        line.push_str(level_label(event.metadata().level()));
        line.push(' ');
        state.line = line;
        let scope = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(index_of(parent))
        } else {
            state.entered.last().copied()
        };
        if let Some(innermost) = scope {
            state.write_scope(innermost);
        }
        let line = &mut state.line;
        line.push_str(event.metadata().target());
        line.push_str(": ");
        let _ = DefaultFields::new().format_fields(Writer::new(line), event);
        line.push('\n');
        // The buffer never fails a write; it cuts the log at its bound.
        let _ = self.buffer.clone().write_all(line.as_bytes());
    }

    fn enter(&self, id: &Id) {
        let mut state = self.state();
        if state.entered.len() < SPANS_ENTERED_MAX {
            state.entered.push(index_of(id));
        } else {
            state.entered_dropped += 1;
        }
    }

    fn exit(&self, _: &Id) {
        let mut state = self.state();
        if state.entered_dropped > 0 {
            state.entered_dropped -= 1;
        } else {
            state.entered.pop();
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        id.clone()
    }

    fn try_close(&self, _: Id) -> bool {
        // Interned spans live for the run; the filter keeps its per-id state for them too.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::simlog::DEFAULT_FILTER;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::EnvFilter;

    /// Events and spans in the shapes the nodes and turmoil produce.
    fn emit() {
        tracing::info!(target: "engine::broker::core", "became leader tp={} epoch={}", "orders/0", 3);
        for host in ["broker-1", "broker-2", "broker-1"] {
            let _node =
                tracing::span!(target: "turmoil::sim", Level::INFO, "node", name = host).entered();
            tracing::info!(target: "engine::broker::session", broker = 1, session = 2, "registered");
            tracing::warn!(target: "harness::run", error = %"refused", "retrying");
            tracing::debug!(target: "engine::wire", "hidden at the default filter");
            let _inner = tracing::info_span!(target: "harness::x", "inner", n = 7_u64).entered();
            tracing::error!(target: "harness::y", ?host, "in two spans");
        }
        tracing::info!(target: "harness::run", only = "fields");
    }

    fn through_fmt(filter: &str) -> Vec<u8> {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_timer(SimTime)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        buffer.take()
    }

    fn through_ours(filter: &str) -> Vec<u8> {
        let buffer = LogBuffer::default();
        let subscriber = SimLogSubscriber::new(buffer.clone()).with(EnvFilter::new(filter));
        tracing::subscriber::with_default(subscriber, emit);
        buffer.take()
    }

    #[test]
    fn writes_the_lines_fmt_writes() {
        for filter in [DEFAULT_FILTER, "trace", "harness=info,turmoil::sim=info"] {
            let ours = String::from_utf8(through_ours(filter)).expect("utf-8");
            let theirs = String::from_utf8(through_fmt(filter)).expect("utf-8");
            assert!(!ours.is_empty());
            assert_eq!(ours, theirs, "filter {filter}");
        }
    }

    #[test]
    fn one_id_per_distinct_span() {
        let subscriber = SimLogSubscriber::new(LogBuffer::default());
        let ids: Vec<u64> = tracing::subscriber::with_default(subscriber, || {
            ["a", "b", "a"]
                .iter()
                .map(|host| {
                    let span = tracing::info_span!("node", name = host);
                    span.id().expect("enabled").into_u64()
                })
                .collect()
        });
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[1]);
    }
}

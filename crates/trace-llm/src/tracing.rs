//! `tracing` spans exported through trace-llm's own pipeline: one pipeline and one span tree
//! for a service that uses both `tracing` and `#[trace_llm]` (feature `tracing`).
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let _guard = trace_llm::TracingConfig::default().console().init()?;
//! let subscriber = tracing_subscriber::registry().with(trace_llm::tracing::layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     let _request = tracing::info_span!("request", http.route = "/chat").entered();
//!     // `#[trace_llm]` functions called here are children of "request", and `tracing`
//!     // spans inside them are their children.
//! });
//! # Ok::<(), trace_llm::Error>(())
//! ```
//!
//! What a `tracing` span becomes:
//! - its name is the `tracing` name (a field `otel.name` renames it); kind INTERNAL (a field
//!   `otel.kind` = `client`, `server`, `producer`, `consumer` changes it);
//! - fields are typed attributes (integers stay integers, booleans booleans, `Debug` values
//!   strings), also fields recorded later with `Span::record` (a later value replaces an
//!   earlier one); `code.file.path` and `code.line.number` say where it was created;
//! - an event inside it is a span event named after its message, with `level`, `target`
//!   and its fields; inside a `#[trace_llm]` span the event goes to that span (whose status
//!   still says only how its call ended);
//! - status Error when a field `error` is recorded (its value is the description), when an
//!   event has an `error` field (the event is then named `exception`, its value in
//!   `exception.message`), or when an event is at level ERROR (its message is the
//!   description); `otel.status_code` = `ok` / `error` and `otel.status_message` set it
//!   directly. An error status counts for the outcome rules (`keep_errors`).
//! - a field whose `Debug` or `Display` panics is not recorded, nor are the fields after it;
//!   the panic stays in the layer (counted in `TracingGuard::stats().hook_panics`).
//!
//! The parent of a `tracing` span is its explicit parent (`parent: &span`), none for
//! `parent: None`, and otherwise the current span: a `tracing` span this layer has entered
//! or a `#[trace_llm]` span, whichever was made current last, or else OpenTelemetry's
//! current span. Sampling, the outcome rules, request context and token totals apply as to
//! `#[trace_llm]` spans. Before `init_tracing` (or after shutdown) the layer records
//! nothing. The subscriber's filters decide which spans and events the layer sees.

use std::borrow::Cow;
use std::fmt;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Level, Metadata, Subscriber};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Key, KeyValue, Value};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::diag::{Hook, isolate};
use crate::semconv as sc;
use crate::span::frame::{self, OwnedFrame};
use crate::span::{LiveSpan, Operation, ParentFrom, SpanState};

/// A `tracing_subscriber::Layer` that exports `tracing` spans through trace-llm's pipeline,
/// nested with `#[trace_llm]` spans in both directions. See the [module docs](self) for what
/// a `tracing` span becomes.
///
/// Moving from `tracing-opentelemetry`: replace
/// `tracing_opentelemetry::layer().with_tracer(tracer)` by `trace_llm::tracing::layer()`,
/// and the `SdkTracerProvider` set-up by `trace_llm::init_tracing()`.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let _guard = trace_llm::init_tracing()?; // was: an SdkTracerProvider with an OTLP exporter
/// tracing_subscriber::registry()
///     .with(trace_llm::tracing::layer()) // was: tracing_opentelemetry::layer().with_tracer(..)
///     .init();
/// # Ok::<(), trace_llm::Error>(())
/// ```
pub fn layer() -> TraceLlmLayer {
    TraceLlmLayer { _private: () }
}

/// The layer [`layer()`] returns.
#[derive(Clone, Debug, Default)]
pub struct TraceLlmLayer {
    _private: (),
}

/// What the layer keeps for a span, in the registry's extensions.
struct Traced {
    span: LiveSpan,
    /// Made current (a copy of it) each time the span is entered, on any thread: the span's
    /// frame without its state (which stays here), or for a span that is off, its parent's.
    entry: OwnedFrame,
}

impl Traced {
    fn span_id(&self) -> Option<SpanId> {
        self.entry.span_id()
    }
}

impl<S> tracing_subscriber::Layer<S> for TraceLlmLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::span::enabled() {
            return;
        }
        let Some(new) = ctx.span(id) else {
            return;
        };
        // An explicit parent this layer does not know (created before tracing started, or
        // filtered out) leaves the span a root, as `tracing-opentelemetry` does.
        let mut explicit = attrs.parent().map(|parent| {
            ctx.span(parent)
                .and_then(|p| p.extensions().get::<Traced>().map(|t| t.entry.copy()))
        });
        let from = match &mut explicit {
            Some(Some(parent)) => ParentFrom::Frame(parent),
            Some(None) => ParentFrom::Nothing,
            None if attrs.is_root() => ParentFrom::Nothing,
            None => ParentFrom::Current,
        };
        let meta = attrs.metadata();
        let mut span = crate::span::begin_under(from, Operation::Task, |state| {
            describe(state, meta);
            // No lock is held here: values are formatted as they are recorded.
            let mut fields = SpanFields::new(state, true, None);
            isolate(Hook::Field, || attrs.record(&mut Typed(&mut fields)));
            fields.name.map_or(Cow::Borrowed(meta.name()), Cow::Owned)
        });
        let entry = match (span.frame_for_entry(), explicit) {
            (Some(entry), Some(Some(parent))) => {
                parent.release();
                entry
            }
            (Some(entry), _) => entry,
            // Off: entering it makes its parent current again.
            (None, Some(Some(parent))) => parent,
            (None, Some(None)) => OwnedFrame::Empty,
            (None, None) => frame::capture(),
        };
        new.extensions_mut().replace(Traced { span, entry });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut formatted = Formatted::default();
        if isolate(Hook::Field, || values.record(&mut formatted)).is_none() {
            return;
        }
        let mut extensions = span.extensions_mut();
        let Some(state) = extensions
            .get_mut::<Traced>()
            .and_then(|t| t.span.state_mut())
        else {
            return;
        };
        let mut fields = SpanFields::new(state, false, Some(formatted));
        values.record(&mut Typed(&mut fields));
        if let Some(name) = fields.name {
            state.name = Cow::Owned(name);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !crate::span::enabled() {
            return;
        }
        // Events are built before a span's extensions are locked (see `SpanFields`).
        if let Some(parent) = event.parent() {
            if let Some(span) = ctx.span(parent) {
                let built = SpanEvent::of(event);
                if let Some(state) = span
                    .extensions_mut()
                    .get_mut::<Traced>()
                    .and_then(|t| t.span.state_mut())
                {
                    built.add_to(state);
                }
            }
            return;
        }
        if !event.is_contextual() {
            return;
        }
        // The innermost current span: a recording `#[trace_llm]` span (entering a `tracing`
        // span replaces the frame with one without state), else the current `tracing`
        // span if the frame is still its own.
        if frame::with_current(|f| f.state.is_some()) == Some(true) {
            let built = SpanEvent::of(event);
            // A `#[trace_llm]` span's status says how its call ended (its `Result`, a panic,
            // a cancellation), not what was logged inside it: the event only.
            frame::with_current_state(|state| built.add_event_only(state));
            return;
        }
        let Some(current) = ctx.lookup_current() else {
            return;
        };
        let current_frame = frame::with_current(|f| f.span.as_ref().map(|s| s.span_id())).flatten();
        let records = current.extensions().get::<Traced>().is_some_and(|traced| {
            // Else a span of ours that records nothing is innermost (or the span is off).
            traced.span_id().is_some()
                && traced.span_id() == current_frame
                && traced.span.is_recording()
        });
        if !records {
            return;
        }
        let built = SpanEvent::of(event);
        if let Some(state) = current
            .extensions_mut()
            .get_mut::<Traced>()
            .and_then(|t| t.span.state_mut())
        {
            built.add_to(state);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let entry = span.extensions().get::<Traced>().map(|t| t.entry.copy());
        if let Some(entry) = entry {
            frame::enter_keyed(id.into_u64(), entry);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        frame::leave_keyed(id.into_u64());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let traced = span.extensions_mut().remove::<Traced>();
        if let Some(Traced { mut span, entry }) = traced {
            span.end();
            entry.release();
        }
    }
}

/// Where the span was created.
fn describe(state: &mut SpanState, meta: &'static Metadata<'static>) {
    if let Some(file) = meta.file() {
        state.push_attr(sc::CODE_FILE_PATH, file);
    }
    if let Some(line) = meta.line() {
        state.push_attr(sc::CODE_LINE_NUMBER, i64::from(line));
    }
}

/// An integer as an attribute: an `i64` when it fits, else its decimal string.
fn integer<T: TryInto<i64> + fmt::Display + Copy>(value: T) -> Value {
    match value.try_into() {
        Ok(v) => Value::I64(v),
        Err(_) => Value::String(value.to_string().into()),
    }
}

/// Records a span's fields into its state: values as attributes, the `otel.*` and `error`
/// fields as what they mean.
struct SpanFields<'a> {
    state: &'a mut SpanState,
    /// Recording the fields a span is created with: distinct keys the span does not have
    /// yet (later records replace a value of the same key).
    created: bool,
    /// `otel.name`.
    name: Option<String>,
    /// The `Debug` / `Display` / error values' texts, formatted before the span's
    /// extensions were locked (see [`Formatted`]), in field order; `None`: format now.
    formatted: Option<std::vec::IntoIter<String>>,
}

impl<'a> SpanFields<'a> {
    fn new(state: &'a mut SpanState, created: bool, formatted: Option<Formatted>) -> Self {
        SpanFields {
            state,
            created,
            name: None,
            formatted: formatted.map(|f| f.texts.into_iter()),
        }
    }
}

impl FieldSink for SpanFields<'_> {
    fn value(&mut self, field: &Field, value: Value) {
        let key = Key::from_static_str(field.name());
        if self.created {
            self.state.add_user_attr(key, value);
        } else {
            self.state.set_user_attr(key, value);
        }
    }

    /// A text value: the `otel.*` fields and `error` say what they mean, the others are
    /// attributes. Takes the text unallocated, so that the fields that are not attributes
    /// cost no copy.
    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        match field.name() {
            "otel.name" => self.name = Some(text.into_owned()),
            "otel.kind" => {
                if let Some(kind) = span_kind(&text) {
                    self.state.kind = kind;
                }
            }
            "otel.status_code" => {
                if text.eq_ignore_ascii_case("ok") {
                    self.state.set_status(Status::Ok);
                } else if text.eq_ignore_ascii_case("error") {
                    self.state.set_status(Status::error(""));
                }
            }
            "otel.status_message" => self.state.set_status(Status::error(text.into_owned())),
            "error" => {
                self.state
                    .set_status(Status::error(text.clone().into_owned()));
                self.value(field, Value::String(text.into_owned().into()));
            }
            _ => {
                let value = match text {
                    Cow::Borrowed(text) => crate::intern::field_value(field.name(), text),
                    Cow::Owned(text) => text.into(),
                };
                self.value(field, Value::String(value));
            }
        }
    }

    /// Formatted earlier when the caller did (see [`Formatted`]), else now.
    fn formatted(&mut self, format: impl FnOnce() -> String) -> String {
        match &mut self.formatted {
            Some(texts) => texts.next().unwrap_or_default(),
            None => format(),
        }
    }
}

/// The texts of a record's `Debug` / `Display` / error values, formatted before the span's
/// extensions are locked: formatting runs user code, which may itself log, and a nested
/// event on the same span would wait on that lock forever. Other values run no user code.
#[derive(Default)]
struct Formatted {
    texts: Vec<String>,
}

impl Visit for Formatted {
    fn record_bool(&mut self, _: &Field, _: bool) {}
    fn record_i64(&mut self, _: &Field, _: i64) {}
    fn record_u64(&mut self, _: &Field, _: u64) {}
    fn record_i128(&mut self, _: &Field, _: i128) {}
    fn record_u128(&mut self, _: &Field, _: u128) {}
    fn record_f64(&mut self, _: &Field, _: f64) {}
    fn record_str(&mut self, _: &Field, _: &str) {}

    fn record_error(&mut self, _: &Field, value: &(dyn std::error::Error + 'static)) {
        self.texts.push(value.to_string());
    }

    fn record_debug(&mut self, _: &Field, value: &dyn fmt::Debug) {
        self.texts.push(format!("{value:?}"));
    }
}

fn span_kind(kind: &str) -> Option<SpanKind> {
    [
        ("client", SpanKind::Client),
        ("server", SpanKind::Server),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find(|(name, _)| kind.eq_ignore_ascii_case(name))
    .map(|(_, kind)| kind)
}

/// Where a visit of `tracing` field values puts them: the typing rules are [`Typed`]'s,
/// the same for span fields and event fields.
trait FieldSink {
    /// A value that is an attribute as it is.
    fn value(&mut self, field: &Field, value: Value);
    /// A text, which may mean more than an attribute (`otel.*`, `error`, `message`).
    fn text(&mut self, field: &Field, text: Cow<'_, str>);
    /// The text of a `Debug` / `Display` / error value.
    fn formatted(&mut self, format: impl FnOnce() -> String) -> String {
        format()
    }
}

/// Visits `tracing` field values into a [`FieldSink`]: integers stay integers (an `i64`
/// when they fit, else their decimal text), booleans booleans, floats doubles, strings
/// borrowed, `Debug` / `Display` / error values their text.
struct Typed<'a, T>(&'a mut T);

impl<T: FieldSink> Visit for Typed<'_, T> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.value(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.value(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.value(field, integer(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.value(field, integer(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.value(field, integer(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.value(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.text(field, Cow::Borrowed(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = self.0.formatted(|| value.to_string());
        self.0.text(field, Cow::Owned(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = self.0.formatted(|| format!("{value:?}"));
        self.0.text(field, Cow::Owned(text));
    }
}

/// A `tracing` event as a span event, and what it says about the span's status.
struct SpanEvent {
    name: Cow<'static, str>,
    attributes: Vec<KeyValue>,
    status: Option<Status>,
}

impl SpanEvent {
    fn of(event: &Event<'_>) -> SpanEvent {
        let meta = event.metadata();
        let mut fields = EventFields {
            message: None,
            error: None,
            attributes: vec![
                KeyValue::new("level", meta.level().as_str()),
                KeyValue::new("target", meta.target()),
            ],
        };
        isolate(Hook::Field, || event.record(&mut Typed(&mut fields)));
        if let Some(file) = meta.file() {
            fields
                .attributes
                .push(KeyValue::new(sc::CODE_FILE_PATH, file));
        }
        if let Some(line) = meta.line() {
            fields
                .attributes
                .push(KeyValue::new(sc::CODE_LINE_NUMBER, i64::from(line)));
        }
        let status = match (&fields.error, *meta.level() == Level::ERROR) {
            (Some(error), _) => Some(Status::error(error.clone())),
            (None, true) => Some(Status::error(fields.message.clone().unwrap_or_default())),
            (None, false) => None,
        };
        let name = match (fields.error, fields.message) {
            (Some(error), message) => {
                fields
                    .attributes
                    .push(KeyValue::new(sc::EXCEPTION_MESSAGE, error));
                if let Some(message) = message {
                    fields.attributes.push(KeyValue::new("message", message));
                }
                Cow::Borrowed(sc::EXCEPTION_EVENT)
            }
            (None, Some(message)) => Cow::Owned(message),
            (None, None) => Cow::Borrowed(meta.name()),
        };
        SpanEvent {
            name,
            attributes: fields.attributes,
            status,
        }
    }

    /// Adds the event to a span of the layer's own, with what it says about the status.
    fn add_to(self, state: &mut SpanState) {
        if let Some(status) = self.status {
            state.set_status(status);
        }
        state.add_event(self.name, self.attributes);
    }

    /// Adds the event to a `#[trace_llm]` span, leaving its status alone.
    fn add_event_only(self, state: &mut SpanState) {
        state.add_event(self.name, self.attributes);
    }
}

struct EventFields {
    message: Option<String>,
    error: Option<String>,
    attributes: Vec<KeyValue>,
}

impl FieldSink for EventFields {
    fn value(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        let text = text.into_owned();
        match field.name() {
            "message" => self.message = Some(text),
            "error" => self.error = Some(text),
            name => self.attributes.push(KeyValue::new(name, text)),
        }
    }
}

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
use tracing_subscriber::registry::{LookupSpan, SpanRef};

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
    /// The fields whose attribute the span holds (see [`AddedFields`]).
    added: AddedFields,
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
        let mut added = AddedFields::default();
        let mut span = crate::span::begin_under(from, Operation::Task, |state| {
            describe(state, meta);
            // No lock is held here: values are applied as they are visited.
            let mut fields = SpanFields {
                state,
                added: &mut added,
                name: None,
            };
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
        new.extensions_mut().replace(Traced { span, added, entry });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        // Typed and formatted before the span's extensions are locked: formatting runs user
        // code, which may itself log, and a nested event on this span would wait on that lock
        // forever. A value whose formatting panics ends the visit; the values before it count.
        let mut changes = Changes::default();
        let _ = isolate(Hook::Field, || values.record(&mut Typed(&mut changes)));
        let mut extensions = span.extensions_mut();
        let Some(traced) = extensions.get_mut::<Traced>() else {
            return;
        };
        let Some(state) = traced.span.state_mut() else {
            return;
        };
        // Not chained into one loop: the usual one-value record takes the first branch alone.
        if let Some((field, change)) = changes.first {
            change.apply(state, &mut traced.added, &field);
        }
        for (field, change) in changes.rest {
            change.apply(state, &mut traced.added, &field);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !crate::span::enabled() {
            return;
        }
        if let Some(parent) = event.parent() {
            if let Some(span) = ctx.span(parent) {
                add_event(&span, event);
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
        if records {
            add_event(&current, event);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let entry = span.extensions().get::<Traced>().map(|t| t.entry.copy());
        if let Some(entry) = entry {
            crate::span::keyed::enter_keyed(id.into_u64(), entry);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        crate::span::keyed::leave_keyed(id.into_u64());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let traced = span.extensions_mut().remove::<Traced>();
        if let Some(Traced {
            mut span, entry, ..
        }) = traced
        {
            span.end();
            entry.release();
        }
    }
}

/// Adds `event` to a span of the layer's own, with what it says about the status. Built
/// before the span's extensions are locked: formatting its fields runs user code, which may
/// itself log on this span.
fn add_event<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>, event: &Event<'_>) {
    let built = SpanEvent::of(event);
    if let Some(state) = span
        .extensions_mut()
        .get_mut::<Traced>()
        .and_then(|t| t.span.state_mut())
    {
        built.add_to(state);
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

/// The fields of a span's callsite whose attribute the layer added, by field index (the
/// first 64), so that a later `Span::record` of a field the span does not have yet appends
/// without searching the span's attributes.
#[derive(Clone, Copy, Default)]
struct AddedFields(u64);

impl AddedFields {
    /// The bit of `field` (none past the first 64).
    #[inline]
    fn bit(field: &Field) -> u64 {
        u32::try_from(field.index())
            .ok()
            .and_then(|index| 1_u64.checked_shl(index))
            .unwrap_or(0)
    }

    /// Adds the attribute of a field the span was created with: its fields are distinct.
    #[inline]
    fn add(&mut self, state: &mut SpanState, field: &Field, value: Value) {
        state.add_user_attr(Key::from_static_str(field.name()), value);
        self.0 |= Self::bit(field);
    }

    /// Sets `field`'s attribute: replaces the value it has, or adds it.
    #[inline]
    fn put(&mut self, state: &mut SpanState, field: &Field, value: Value) {
        let key = Key::from_static_str(field.name());
        let bit = Self::bit(field);
        // While every user attribute of the span came from a field marked here (nothing else
        // added one, none was dropped at the limit), an unmarked field's key is not among them.
        if self.0 & bit == 0
            && bit != 0
            && state.user_attribute_count() == self.0.count_ones() as usize
        {
            state.add_user_attr(key, value);
        } else {
            state.set_user_attr(key, value);
        }
        self.0 |= bit;
    }
}

/// What a span field's value means for its span.
enum Change {
    /// An attribute (a later value of the same field replaces it).
    Attribute(Value),
    /// `otel.name`: the span's name.
    Name(String),
    /// `otel.kind`.
    Kind(SpanKind),
    /// `otel.status_code` / `otel.status_message`.
    Status(Status),
    /// `error`: status Error with the text as its description, and the attribute.
    Error(String),
    /// An `otel.*` value that means nothing known.
    Ignored,
}

impl Change {
    /// A text value: the `otel.*` fields and `error` say what they mean, the others are
    /// attributes. Takes the text unallocated, so that the fields that are not attributes
    /// cost no copy.
    #[inline]
    fn of_text(field: &Field, text: Cow<'_, str>) -> Change {
        match field.name() {
            "otel.name" => Change::Name(text.into_owned()),
            "otel.kind" => span_kind(&text).map_or(Change::Ignored, Change::Kind),
            "otel.status_code" if text.eq_ignore_ascii_case("ok") => Change::Status(Status::Ok),
            "otel.status_code" if text.eq_ignore_ascii_case("error") => {
                Change::Status(Status::error(""))
            }
            "otel.status_code" => Change::Ignored,
            "otel.status_message" => Change::Status(Status::error(text.into_owned())),
            "error" => Change::Error(text.into_owned()),
            name => Change::Attribute(Value::String(match text {
                Cow::Borrowed(text) => crate::span::local::field_value(name, text),
                Cow::Owned(text) => text.into(),
            })),
        }
    }

    /// Applies the change to a span that exists (a record): a new name at once, and a
    /// field's attribute replacing any value it has.
    fn apply(self, state: &mut SpanState, added: &mut AddedFields, field: &Field) {
        if let Some(name) = self.apply_unnamed(state, added, field, AddedFields::put) {
            state.name = Cow::Owned(name);
        }
    }

    /// Applies the change but a new name, which comes back (the caller decides when it
    /// applies); attributes go through `put`.
    #[inline]
    fn apply_unnamed(
        self,
        state: &mut SpanState,
        added: &mut AddedFields,
        field: &Field,
        put: fn(&mut AddedFields, &mut SpanState, &Field, Value),
    ) -> Option<String> {
        match self {
            Change::Attribute(value) => put(added, state, field, value),
            Change::Name(name) => return Some(name),
            Change::Kind(kind) => state.kind = kind,
            Change::Status(status) => state.set_status(status),
            Change::Error(text) => {
                state.set_status(Status::error(text.clone()));
                put(added, state, field, Value::String(text.into()));
            }
            Change::Ignored => {}
        }
        None
    }
}

/// Applies a new span's fields as they are visited (no lock is held then).
struct SpanFields<'a> {
    state: &'a mut SpanState,
    added: &'a mut AddedFields,
    /// `otel.name`: applied by the caller, after the span is described.
    name: Option<String>,
}

impl FieldSink for SpanFields<'_> {
    fn value(&mut self, field: &Field, value: Value) {
        self.added.add(self.state, field, value);
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        let change = Change::of_text(field, text);
        if let Some(name) = change.apply_unnamed(self.state, self.added, field, AddedFields::add) {
            self.name = Some(name);
        }
    }
}

/// A record's values as changes, collected before its span is locked (one value, the usual
/// `Span::record`, without an allocation).
#[derive(Default)]
struct Changes {
    first: Option<(Field, Change)>,
    rest: Vec<(Field, Change)>,
}

impl Changes {
    fn push(&mut self, field: &Field, change: Change) {
        if self.first.is_none() {
            self.first = Some((field.clone(), change));
        } else {
            self.rest.push((field.clone(), change));
        }
    }
}

impl FieldSink for Changes {
    fn value(&mut self, field: &Field, value: Value) {
        self.push(field, Change::Attribute(value));
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        self.push(field, Change::of_text(field, text));
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
        self.0.text(field, Cow::Owned(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.text(field, Cow::Owned(format!("{value:?}")));
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

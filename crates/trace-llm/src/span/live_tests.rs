//! Unit tests of the span handle: which encoding `begin` chooses, what `call` makes current,
//! and that a span ends exactly once (ended, cancelled, panicked), against a core whose sink
//! records what it receives.

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_sdk::trace::SpanData;

use super::core::{self, Core, Settings, Sink};
use super::frame;
use super::live::{LiveSpan, Started, begin};
use super::sampler::Sampler;
use super::{Operation, Outcome};
use crate::cost::PriceTable;

/// A sink that keeps what it receives.
#[derive(Default)]
struct Recorded {
    spans: Mutex<Vec<SpanData>>,
}

impl Sink for Recorded {
    fn started(&self, _: u64) {}
    fn submit(&self, span: SpanData) {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(span);
    }
    fn hold(&self, _: SpanData, _: Outcome) {}
    fn accepts(&self) -> bool {
        true
    }
}

/// The test core, installed once for the process (cores are never freed), with a sampler
/// each test sets; tests take turns.
struct TestCore {
    sink: &'static Recorded,
    sampled: &'static Core,
    unsampled: &'static Core,
}

static TURN: Mutex<()> = Mutex::new(());

fn core_with(ratio: f64, sink: &'static Recorded) -> &'static Core {
    Box::leak(Box::new(Core {
        settings: Settings {
            scope: InstrumentationScope::builder("test").build(),
            sampler: Sampler::ratio(ratio),
            capture_content: false,
            latest_conventions: false,
            content_max_bytes: 1024,
            redact: None,
            keep_unsampled: false,
            metrics: None,
            prices: PriceTable::new(Default::default()),
            tail: None,
        },
        sink,
    }))
}

fn test_core() -> (&'static TestCore, MutexGuard<'static, ()>) {
    static CORE: OnceLock<TestCore> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let core = CORE.get_or_init(|| {
        let sink: &'static Recorded = Box::leak(Box::default());
        TestCore {
            sink,
            sampled: core_with(1.0, sink),
            unsampled: core_with(0.0, sink),
        }
    });
    core.sink
        .spans
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    (core, turn)
}

/// Runs `f` with `which` installed as the running core.
fn running<R>(which: &'static Core, f: impl FnOnce() -> R) -> R {
    core::replace_for_test(which);
    f()
}

fn exported(core: &TestCore) -> Vec<SpanData> {
    core.sink
        .spans
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn start(name: &'static str) -> LiveSpan {
    begin(Operation::Task, |_| name.into())
}

#[test]
fn sampled_spans_record_and_end_once() {
    let (core, _turn) = test_core();
    running(core.sampled, || {
        let mut span = start("once");
        assert_eq!(span.started(), Started::Recording);
        assert!(span.is_recording());
        span.end();
        assert!(span.is_off(), "an ended span is off");
        span.end();
        drop(span);
    });
    let spans = exported(core);
    assert_eq!(spans.len(), 1, "ended exactly once");
    assert_eq!(spans[0].name, "once");
    assert_eq!(spans[0].status, Status::Unset);
}

#[test]
fn call_makes_the_span_current_and_restores() {
    let (core, _turn) = test_core();
    let (inner_parent, current_inside) = running(core.sampled, || {
        let mut outer = start("outer");
        let seen = outer.call(|| {
            let mut inner = start("inner");
            inner.end();
            opentelemetry::Context::map_current(|cx| cx.span().span_context().span_id())
        });
        assert!(frame::with_current(|f| f.span.is_none()).unwrap_or(true));
        outer.end();
        let spans = exported(core);
        let inner = spans.iter().find(|s| s.name == "inner").expect("inner");
        (inner.parent_span_id, seen)
    });
    let spans = exported(core);
    let outer = spans.iter().find(|s| s.name == "outer").expect("outer");
    assert_eq!(inner_parent, outer.span_context.span_id());
    assert_eq!(current_inside, outer.span_context.span_id());
    assert!(!opentelemetry::Context::map_current(
        |cx| cx.has_active_span()
    ));
}

#[test]
fn dropped_unfinished_is_cancelled_and_a_panic_is_recorded() {
    let (core, _turn) = test_core();
    running(core.sampled, || {
        drop(start("dropped"));
        let mut span = start("panicked");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            span.call(|| panic!("boom"))
        }));
        assert!(caught.is_err());
        assert!(span.is_off(), "the panic ended it");
    });
    let spans = exported(core);
    assert_eq!(spans.len(), 2);
    let dropped = spans.iter().find(|s| s.name == "dropped").expect("dropped");
    assert!(matches!(dropped.status, Status::Error { .. }));
    let panicked = spans
        .iter()
        .find(|s| s.name == "panicked")
        .expect("panicked");
    assert_eq!(panicked.status, Status::error("boom"));
}

#[test]
fn unsampled_spans_are_ids_and_their_children_are_off() {
    let (core, _turn) = test_core();
    running(core.unsampled, || {
        let mut root = start("root");
        assert_eq!(root.started(), Started::Ids);
        let child_encoding = root.call(|| {
            let child = start("child");
            child.started()
        });
        assert_eq!(
            child_encoding,
            Started::Off,
            "same decision, no ids of its own"
        );
        root.end();
        assert!(root.is_off());
    });
    assert!(exported(core).is_empty());
}

#[test]
fn off_spans_do_nothing() {
    let mut span = LiveSpan::OFF;
    assert_eq!(span.started(), Started::Off);
    assert_eq!(span.call(|| 7), 7);
    span.end();
    assert!(span.is_off());
}

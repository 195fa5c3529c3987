//! What `#[trace_llm]`-generated code calls. Not a public API: names and signatures here
//! change without notice.
//!
//! Return values are inspected with autoref specialisation: the generated code calls a
//! method on `&Probe(value)`, and method resolution picks the impl for the most specific
//! trait the *concrete* type implements (`GenAiResponse`, `ErrorType`, `Display`, ...) or
//! the do-nothing fallback. No bound is ever forced on the user's types.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt::{Debug, Display};
use std::pin::Pin;

pub use crate::future::{InSpan, Instrumented, instrument};
pub use crate::genai::{ErrorType, GenAiChunk, GenAiResponse};
pub use crate::span::{LiveSpan, Meta, Operation, SpanInit, StrValue};
pub use crate::stream::{TracedIter, TracedStream};

/// Starts the span of a decorated function (see [`Meta`]).
#[inline(always)]
pub fn start<F>(meta: &'static Meta, init: F) -> LiveSpan
where
    F: FnOnce(&mut SpanInit<'_>),
{
    crate::span::start(meta, init)
}

// ---- streams ------------------------------------------------------------------------------

/// `impl Stream` returns: the span follows the stream.
#[inline]
pub fn trace_stream<S: futures_core::Stream>(
    stream: S,
    span: LiveSpan,
    on_item: fn(&S::Item, &mut LiveSpan),
) -> TracedStream<S> {
    TracedStream::new(stream, span, on_item)
}

/// `impl Iterator` returns: the span follows the iterator.
#[inline]
pub fn trace_iter<I: Iterator>(
    iter: I,
    span: LiveSpan,
    on_item: fn(&I::Item, &mut LiveSpan),
) -> TracedIter<I> {
    TracedIter::new(iter, span, on_item)
}

/// Boxed streams and iterators (named types such as `BoxStream` or a provider client's
/// stream alias): wrapped, then boxed again as the same type.
#[diagnostic::on_unimplemented(
    message = "`#[trace_llm(stream)]` cannot wrap `{Self}`",
    label = "the function must return `impl Stream`, `impl Iterator`, a boxed stream \
             (`Pin<Box<dyn Stream<Item = T> + Send>>`, `BoxStream`) or a boxed iterator, \
             or a `Result` of one",
    note = "for other stream types, return `impl Stream` or use `trace_llm::span(..).stream(s)`"
)]
pub trait Rewrap: Sized {
    type Item;
    fn __tl_rewrap(self, span: LiveSpan, on_item: fn(&Self::Item, &mut LiveSpan)) -> Self;
}

macro_rules! rewrap_streams {
    ($([$($bounds:tt)*])*) => {$(
        impl<'a, T: 'a> Rewrap for Pin<Box<dyn futures_core::Stream<Item = T> $($bounds)* + 'a>> {
            type Item = T;
            fn __tl_rewrap(self, span: LiveSpan, on_item: fn(&T, &mut LiveSpan)) -> Self {
                Box::pin(TracedStream::new(self, span, on_item))
            }
        }
    )*};
}
rewrap_streams!([+ Send] [+ Send + Sync] []);

macro_rules! rewrap_iters {
    ($([$($bounds:tt)*])*) => {$(
        impl<'a, T: 'a> Rewrap for Box<dyn Iterator<Item = T> $($bounds)* + 'a> {
            type Item = T;
            fn __tl_rewrap(self, span: LiveSpan, on_item: fn(&T, &mut LiveSpan)) -> Self {
                Box::new(TracedIter::new(self, span, on_item))
            }
        }
    )*};
}
rewrap_iters!([+ Send] [+ Send + Sync] []);

// ---- Result / value split -----------------------------------------------------------------

/// The `Ok` or `Err` side of a returned value; a non-`Result` value is all `ok`.
pub struct Split<'a, T: ?Sized, E: ?Sized> {
    pub ok: Option<&'a T>,
    pub err: Option<&'a E>,
}

/// Probe over a returned value.
pub struct Ret<'a, T: ?Sized>(pub &'a T);

pub trait SplitResult<'a> {
    type Ok: ?Sized;
    type Err: ?Sized;
    fn __tl_split(&self) -> Split<'a, Self::Ok, Self::Err>;
}

impl<'a, T, E> SplitResult<'a> for Ret<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn __tl_split(&self) -> Split<'a, T, E> {
        match self.0 {
            Ok(v) => Split {
                ok: Some(v),
                err: None,
            },
            Err(e) => Split {
                ok: None,
                err: Some(e),
            },
        }
    }
}

pub trait SplitValue<'a> {
    type Ok: ?Sized;
    fn __tl_split(&self) -> Split<'a, Self::Ok, Infallible>;
}

impl<'a, T: ?Sized> SplitValue<'a> for &Ret<'a, T> {
    type Ok = T;
    #[inline]
    fn __tl_split(&self) -> Split<'a, T, Infallible> {
        Split {
            ok: Some(self.0),
            err: None,
        }
    }
}

// ---- responses and chunks -----------------------------------------------------------------

/// Probe over a successful value or a stream item.
pub struct Val<'a, T: ?Sized>(pub &'a T);

pub trait RecordResponse {
    fn __tl_response(&self, span: &mut LiveSpan);
}

impl<T: GenAiResponse + ?Sized> RecordResponse for Val<'_, T> {
    #[inline]
    fn __tl_response(&self, span: &mut LiveSpan) {
        span.record_response(self.0);
    }
}

pub trait SkipResponse {
    fn __tl_response(&self, span: &mut LiveSpan);
}

impl<T: ?Sized> SkipResponse for &Val<'_, T> {
    #[inline]
    fn __tl_response(&self, _span: &mut LiveSpan) {}
}

pub trait RecordChunk {
    fn __tl_chunk(&self, span: &mut LiveSpan);
}

impl<T: GenAiChunk + ?Sized> RecordChunk for Val<'_, T> {
    #[inline]
    fn __tl_chunk(&self, span: &mut LiveSpan) {
        span.record_chunk(self.0);
    }
}

pub trait SkipChunk {
    fn __tl_chunk(&self, span: &mut LiveSpan);
}

impl<T: ?Sized> SkipChunk for &Val<'_, T> {
    #[inline]
    fn __tl_chunk(&self, _span: &mut LiveSpan) {}
}

// ---- tool results -------------------------------------------------------------------------

pub trait RecordToolResult {
    fn __tl_tool_result(&self, span: &mut LiveSpan);
}

#[cfg(feature = "json")]
impl<T: serde::Serialize + ?Sized> RecordToolResult for Val<'_, T> {
    fn __tl_tool_result(&self, span: &mut LiveSpan) {
        span.record_tool_result(self.0);
    }
}

pub trait SkipToolResult {
    fn __tl_tool_result(&self, span: &mut LiveSpan);
}

impl<T: ?Sized> SkipToolResult for &Val<'_, T> {
    #[inline]
    fn __tl_tool_result(&self, _span: &mut LiveSpan) {}
}

// ---- errors -------------------------------------------------------------------------------

/// Probe over an error value.
pub struct Fail<'a, E: ?Sized>(pub &'a E);

/// `error.type` from the user's [`ErrorType`] impl...
pub trait TypeFromErrorType {
    fn __tl_error_type(&self) -> Cow<'static, str>;
}

impl<E: ErrorType + ?Sized> TypeFromErrorType for Fail<'_, E> {
    #[inline]
    fn __tl_error_type(&self) -> Cow<'static, str> {
        crate::diag::isolate(crate::diag::Hook::ErrorType, || self.0.error_type())
            .unwrap_or_else(|| crate::genai::short_type_name(std::any::type_name::<E>()))
    }
}

/// ...else the type's short name.
pub trait TypeFromName {
    fn __tl_error_type(&self) -> Cow<'static, str>;
}

impl<E: ?Sized> TypeFromName for &Fail<'_, E> {
    #[inline]
    fn __tl_error_type(&self) -> Cow<'static, str> {
        crate::genai::short_type_name(std::any::type_name::<E>())
    }
}

/// The exception message from `Display`...
pub trait MessageFromDisplay {
    fn __tl_message(&self) -> Option<String>;
}

impl<E: Display + ?Sized> MessageFromDisplay for &Fail<'_, E> {
    fn __tl_message(&self) -> Option<String> {
        crate::diag::isolate(crate::diag::Hook::ErrorType, || self.0.to_string())
    }
}

/// ...else `Debug`...
pub trait MessageFromDebug {
    fn __tl_message(&self) -> Option<String>;
}

impl<E: Debug + ?Sized> MessageFromDebug for &&Fail<'_, E> {
    fn __tl_message(&self) -> Option<String> {
        crate::diag::isolate(crate::diag::Hook::ErrorType, || format!("{:?}", self.0))
    }
}

/// ...else nothing.
pub trait NoMessage {
    fn __tl_message(&self) -> Option<String>;
}

impl<E: ?Sized> NoMessage for Fail<'_, E> {
    fn __tl_message(&self) -> Option<String> {
        None
    }
}

/// Full type name, for `exception.type`.
#[inline]
pub fn type_name_of<E: ?Sized>(_: &E) -> &'static str {
    std::any::type_name::<E>()
}

/// Records what the function returned and ends the span. Expanded in the user's crate, so
/// the probes see concrete types.
#[doc(hidden)]
#[macro_export]
macro_rules! __tl_finish {
    ($span:ident, $ret:expr) => {{
        if $span.is_recording() {
            $crate::__tl_record!(&mut $span, $ret, __tl_response);
            if $span.wants_tool_result() {
                #[allow(unused_imports)]
                use $crate::__private::{
                    RecordToolResult as _, SkipToolResult as _, SplitResult as _, SplitValue as _,
                };
                if let ::core::option::Option::Some(__tl_ok) =
                    (&$crate::__private::Ret($ret)).__tl_split().ok
                {
                    (&$crate::__private::Val(__tl_ok)).__tl_tool_result(&mut $span);
                }
            }
        }
        $span.end();
    }};
}

/// Records an error value (the `Err` of a returned `Result` whose `Ok` is a stream) and ends
/// the span.
#[doc(hidden)]
#[macro_export]
macro_rules! __tl_finish_err {
    ($span:ident, $err:expr) => {{
        if $span.is_recording() {
            $crate::__tl_record_err!(&mut $span, $err);
        }
        $span.end();
    }};
}

/// Records an error: `error.type` from `ErrorType` or the type name, the message from
/// `Display` or `Debug`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tl_record_err {
    ($span:expr, $err:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{
            MessageFromDebug as _, MessageFromDisplay as _, NoMessage as _, TypeFromErrorType as _,
            TypeFromName as _,
        };
        let __tl_err = $err;
        let __tl_type = (&$crate::__private::Fail(__tl_err)).__tl_error_type();
        let __tl_message = (&&$crate::__private::Fail(__tl_err)).__tl_message();
        $crate::__private::LiveSpan::record_error_parts(
            $span,
            __tl_type,
            $crate::__private::type_name_of(__tl_err),
            __tl_message,
        );
    }};
}

/// Records one value (a return value: response; a stream item: chunk) or its error.
/// `$span` is an expression of type `&mut LiveSpan`, evaluated once per use.
#[doc(hidden)]
#[macro_export]
macro_rules! __tl_record {
    ($span:expr, $value:expr, $method:ident) => {{
        #[allow(unused_imports)]
        use $crate::__private::{
            MessageFromDebug as _, MessageFromDisplay as _, NoMessage as _, RecordChunk as _,
            RecordResponse as _, SkipChunk as _, SkipResponse as _, SplitResult as _,
            SplitValue as _, TypeFromErrorType as _, TypeFromName as _,
        };
        let __tl_split = (&$crate::__private::Ret($value)).__tl_split();
        if let ::core::option::Option::Some(__tl_ok) = __tl_split.ok {
            (&$crate::__private::Val(__tl_ok)).$method($span);
        }
        if let ::core::option::Option::Some(__tl_err) = __tl_split.err {
            $crate::__tl_record_err!($span, __tl_err);
        }
    }};
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the borrows select the impl: that is the mechanism under test
mod tests {
    use super::*;

    struct Plain;
    #[derive(Debug)]
    struct OnlyDebug;
    struct Typed;
    impl ErrorType for Typed {
        fn error_type(&self) -> Cow<'static, str> {
            "rate_limit".into()
        }
    }
    impl Display for Typed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("slow down")
        }
    }

    #[test]
    fn error_probes_pick_the_most_specific_impl() {
        assert_eq!((&Fail(&Typed)).__tl_error_type(), "rate_limit");
        assert_eq!((&Fail(&Plain)).__tl_error_type(), "Plain");
        assert_eq!(
            (&&Fail(&Typed)).__tl_message().as_deref(),
            Some("slow down")
        );
        assert_eq!(
            (&&Fail(&OnlyDebug)).__tl_message().as_deref(),
            Some("OnlyDebug")
        );
        assert_eq!((&&Fail(&Plain)).__tl_message(), None);
    }

    #[test]
    fn split_sees_results_and_plain_values() {
        let r: Result<u8, Plain> = Ok(1);
        let s = (&Ret(&r)).__tl_split();
        assert!(s.ok.is_some() && s.err.is_none());
        let v = 5u8;
        let s = (&Ret(&v)).__tl_split();
        assert_eq!(s.ok, Some(&5));
    }
}

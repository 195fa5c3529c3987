//! Request context that follows the work: the thread-local current frame, `RequestContext`
//! scopes, and context-preserving `spawn` / `spawn_blocking`.

pub(crate) mod frame;
pub mod propagation;
mod request;
mod spawn;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_bridge;

pub(crate) use request::RequestData;
pub use request::{
    MAX_CONTEXT_ATTRIBUTES, MAX_CONTEXT_KEY_BYTES, MAX_CONTEXT_VALUE_BYTES, RequestContext, Scoped,
};
pub use spawn::{spawn, spawn_blocking};

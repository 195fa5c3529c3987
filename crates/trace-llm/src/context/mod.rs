//! Request context that follows the work: `RequestContext` scopes, W3C propagation, and
//! context-preserving `spawn` / `spawn_blocking` (the current-span frame they move is the
//! span core's).

pub mod propagation;
mod request;
mod spawn;

pub use request::{
    MAX_CONTEXT_ATTRIBUTES, MAX_CONTEXT_KEY_BYTES, MAX_CONTEXT_VALUE_BYTES, RequestContext, Scoped,
};
pub use spawn::{spawn, spawn_blocking};

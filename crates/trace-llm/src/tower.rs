//! `tower` middleware (feature `tower`): every incoming HTTP request runs as a child of its
//! `traceparent`, with the request context its `baggage` carries.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::propagation::{self, HeaderExtractor, RemoteScoped};

/// Runs each request's handler inside the trace and request context its headers carry:
/// `#[trace_llm]` spans started by the handler become children of the incoming
/// `traceparent`, and carry the request context of its `baggage`. Malformed headers are
/// ignored (the handler's spans then start a new trace).
///
/// ```
/// use tower_layer::Layer;
/// use trace_llm::tower::RequestContextLayer;
///
/// # #[derive(Clone)] struct Handler;
/// # impl tower_service::Service<http::Request<()>> for Handler {
/// #     type Response = (); type Error = (); type Future = std::future::Ready<Result<(), ()>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), ()>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, _: http::Request<()>) -> Self::Future { std::future::ready(Ok(())) }
/// # }
/// let service = RequestContextLayer::new().layer(Handler);
/// // With axum: Router::new().route(...).layer(RequestContextLayer::new())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestContextLayer;

impl RequestContextLayer {
    /// The layer.
    pub fn new() -> Self {
        RequestContextLayer
    }
}

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContextService { inner }
    }
}

/// The service [`RequestContextLayer`] wraps around a handler.
#[derive(Clone, Debug)]
pub struct RequestContextService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for RequestContextService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RemoteScoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let scope = propagation::extract(&HeaderExtractor(request.headers()));
        // Work the handler does before returning its future runs in the scope too.
        let future = scope.clone().sync_scope(|| self.inner.call(request));
        scope.scope(future)
    }
}

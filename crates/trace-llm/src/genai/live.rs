//! What generated code and the stream adapters call to run extraction on a live span:
//! the provider traits meet the span core here (the span core knows nothing of them).

use crate::diag::{Hook, isolate};
use crate::span::{LiveSpan, SpanInit};

use super::{GenAiChunk, GenAiRequest, GenAiResponse, RequestRecorder, ResponseRecorder};

impl LiveSpan {
    /// Records a response (usage, model, finish reasons, ...).
    pub fn record_response<T: GenAiResponse + ?Sized>(&mut self, response: &T) {
        if let Some(state) = self.state_mut() {
            isolate(Hook::Extractor, || {
                response.record_response(&mut ResponseRecorder { state });
            });
        }
    }

    /// Records one stream chunk.
    pub fn record_chunk<T: GenAiChunk + ?Sized>(&mut self, chunk: &T) {
        if let Some(state) = self.state_mut() {
            isolate(Hook::Extractor, || {
                chunk.record_chunk(&mut ResponseRecorder { state })
            });
        }
    }
}

impl SpanInit<'_> {
    /// The request's model and settings (`request = expr`).
    pub fn request<R: GenAiRequest + ?Sized>(&mut self, request: &R) {
        let state = &mut *self.state;
        isolate(Hook::Extractor, || {
            if let Some(model) = request.model() {
                state.set_request_model(model);
            }
            request.record_request(&mut RequestRecorder { state });
        });
    }
}

//! Traced embeddings.

use std::future::Future;
use std::ops::Deref;

use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::embeddings::{
    CreateBase64EmbeddingResponse, CreateEmbeddingRequest, CreateEmbeddingResponse, EmbeddingInput,
    EmbeddingUsage,
};
use async_openai::{Embeddings, RequestOptions};

use super::call::TracedCall;
use super::error::trace_error;
use super::{Settings, keep_request, keep_response};
use crate::recorder::{CallRecorder, Usage};
use crate::trace::FinishReason;

/// async-openai's [`Embeddings`] with `create` and `create_base64` traced. Returned by
/// [`TracedClient::embeddings`](super::TracedClient::embeddings).
pub struct TracedEmbeddings<'c, C: Config> {
    embeddings: Embeddings<'c, C>,
    settings: Settings,
}

impl<'c, C: Config> TracedEmbeddings<'c, C> {
    pub(super) fn new(embeddings: Embeddings<'c, C>, settings: Settings) -> Self {
        TracedEmbeddings { embeddings, settings }
    }

    /// `Embeddings::create`, recorded. The call is timed from this method's call to the
    /// response.
    pub fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> impl Future<Output = Result<CreateEmbeddingResponse, OpenAIError>> {
        let rec = self.start(&request);
        let done = |mut rec: CallRecorder, result: Result<CreateEmbeddingResponse, OpenAIError>| {
            match &result {
                Ok(r) => {
                    keep_response(&mut rec, r);
                    let dims = r.data.first().map_or(0, |e| e.embedding.len());
                    finish(rec, &r.model, &r.usage, r.data.len(), dims);
                }
                Err(e) => rec.fail(trace_error(e)),
            }
            result
        };
        TracedCall::new(rec, self.embeddings.create(request), done)
    }

    /// `Embeddings::create_base64`, recorded.
    pub fn create_base64(
        &self,
        request: CreateEmbeddingRequest,
    ) -> impl Future<Output = Result<CreateBase64EmbeddingResponse, OpenAIError>> {
        let rec = self.start(&request);
        let done = |mut rec: CallRecorder,
                    result: Result<CreateBase64EmbeddingResponse, OpenAIError>| {
            match &result {
                Ok(r) => {
                    keep_response(&mut rec, r);
                    finish(rec, &r.model, &r.usage, r.data.len(), 0);
                }
                Err(e) => rec.fail(trace_error(e)),
            }
            result
        };
        TracedCall::new(rec, self.embeddings.create_base64(request), done)
    }

    fn start(&self, request: &CreateEmbeddingRequest) -> CallRecorder {
        let mut rec = self.settings.start("embeddings", &request.model);
        let (count, first) = match &request.input {
            EmbeddingInput::String(s) => (1, Some(s.as_str())),
            EmbeddingInput::StringArray(v) => (v.len(), v.first().map(String::as_str)),
            EmbeddingInput::IntegerArray(_) => (1, None),
            EmbeddingInput::ArrayOfIntegerArray(v) => (v.len(), None),
        };
        rec.metadata("input_count", count);
        keep_request(&mut rec, request);
        if let Some(text) = first {
            rec.input(text);
        }
        rec
    }

    /// The wrapped `Embeddings`.
    pub fn inner(&self) -> &Embeddings<'c, C> {
        &self.embeddings
    }
}

fn finish(mut rec: CallRecorder, model: &str, u: &EmbeddingUsage, count: usize, dims: usize) {
    rec.response_model(model);
    rec.usage(Usage::new(u64::from(u.prompt_tokens), 0).total_tokens(u64::from(u.total_tokens)));
    let shape = if dims > 0 {
        format!("{count} embeddings × {dims} dimensions")
    } else {
        format!("{count} embeddings")
    };
    rec.output(&shape);
    rec.finish(FinishReason::Stop);
}

impl<'c, C: Config> Deref for TracedEmbeddings<'c, C> {
    type Target = Embeddings<'c, C>;

    fn deref(&self) -> &Embeddings<'c, C> {
        &self.embeddings
    }
}

impl<C: Config> RequestOptionsBuilder for TracedEmbeddings<'_, C> {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.embeddings.options_mut()
    }

    fn options(&self) -> &RequestOptions {
        self.embeddings.options()
    }
}

//! A sink that emits each finished trace as one structured `tracing` event.

use std::borrow::Cow;

use super::{Sink, SinkError};
use crate::trace::LlmTrace;

/// Emits every trace as an event with target `llm_trace::trace`: `INFO` for successful calls,
/// `WARN` for failed ones, with the main fields as structured values (GenAI names where one
/// exists). The events are emitted on the tracer's writer thread, so they do not carry the
/// caller's span; the per-call span (see [`CallRecorder::span`](crate::CallRecorder::span))
/// does.
///
/// ```
/// use llm_trace_core::{sink::TracingSink, Tracer};
///
/// let tracer = Tracer::builder().sink(TracingSink::new()).build()?;
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSink {
    _private: (),
}

impl TracingSink {
    /// A new sink.
    pub fn new() -> TracingSink {
        TracingSink::default()
    }
}

macro_rules! trace_event {
    ($level:expr, $t:expr) => {{
        let t: &LlmTrace = $t;
        tracing::event!(
            target: "llm_trace::trace",
            $level,
            llm_trace.trace_id = %t.trace_id,
            gen_ai.conversation.id = %t.session_id,
            llm_trace.function_name = %t.function_name,
            llm_trace.call_path = ?t.call_path,
            llm_trace.tags = ?t.tags,
            gen_ai.provider.name = %t.provider,
            gen_ai.operation.name = %t.operation,
            gen_ai.request.model = %t.model,
            gen_ai.response.model = t.response_model.as_deref(),
            gen_ai.response.finish_reasons = t.finish_reason.as_str(),
            gen_ai.usage.input_tokens = t.prompt_tokens,
            gen_ai.usage.output_tokens = t.completion_tokens,
            gen_ai.usage.cache_read.input_tokens = t.cached_tokens,
            gen_ai.usage.reasoning.output_tokens = t.reasoning_tokens,
            llm_trace.cost_usd = t.cost_usd,
            llm_trace.latency_ms = t.latency_ms,
            llm_trace.ttft_ms = t.ttft_ms,
            error.type = t.error.as_ref().map(|e| e.kind.as_str()),
            error.message = t.error.as_ref().map(|e| e.message.as_str()),
            "{} {} {}",
            t.operation,
            t.model,
            t.finish_reason,
        )
    }};
}

impl Sink for TracingSink {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("tracing")
    }

    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        for trace in batch {
            if trace.is_error() {
                trace_event!(tracing::Level::WARN, trace);
            } else {
                trace_event!(tracing::Level::INFO, trace);
            }
        }
        Ok(())
    }
}

//! The `tracing` span every traced call runs in, with OpenTelemetry GenAI field names.
//!
//! Users' own `tracing` pipelines (tracing-subscriber, tracing-opentelemetry) see each LLM
//! call as a span under the caller's span. The span is created disabled, at the cost of one
//! callsite check, when no subscriber is interested.

use tracing::Span;
use tracing::field::Empty;

use crate::trace::LlmTrace;

/// Creates the span of a call that is starting. Span names must be static: known operations
/// get their own name, others are called `llm`; `otel.name` carries `{operation} {model}`.
pub(crate) fn start(trace: &LlmTrace) -> Span {
    macro_rules! call_span {
        ($name:literal) => {
            tracing::info_span!(
                target: "llm_trace",
                $name,
                otel.name = Empty,
                otel.kind = "client",
                gen_ai.operation.name = %trace.operation,
                gen_ai.provider.name = %trace.provider,
                gen_ai.request.model = %trace.model,
                gen_ai.request.temperature = Empty,
                gen_ai.request.max_tokens = Empty,
                gen_ai.response.model = Empty,
                gen_ai.response.finish_reasons = Empty,
                gen_ai.usage.input_tokens = Empty,
                gen_ai.usage.output_tokens = Empty,
                gen_ai.usage.cache_read.input_tokens = Empty,
                gen_ai.usage.reasoning.output_tokens = Empty,
                gen_ai.conversation.id = %trace.session_id,
                error.type = Empty,
                llm_trace.trace_id = %trace.trace_id,
                llm_trace.function_name = %trace.function_name,
                llm_trace.cost_usd = Empty,
            )
        };
    }
    let span = match &*trace.operation {
        "chat" => call_span!("chat"),
        "embeddings" => call_span!("embeddings"),
        "completion" => call_span!("completion"),
        _ => call_span!("llm"),
    };
    if !span.is_disabled() {
        span.record("otel.name", format!("{} {}", trace.operation, trace.model));
    }
    span
}

/// Records what became known by the end of the call.
pub(crate) fn finish(span: &Span, trace: &LlmTrace) {
    if span.is_disabled() {
        return;
    }
    if let Some(t) = trace.temperature {
        span.record("gen_ai.request.temperature", f64::from(t));
    }
    if let Some(m) = trace.max_tokens {
        span.record("gen_ai.request.max_tokens", m);
    }
    if let Some(model) = &trace.response_model {
        span.record("gen_ai.response.model", &**model);
    }
    span.record("gen_ai.response.finish_reasons", trace.finish_reason.as_str());
    span.record("gen_ai.usage.input_tokens", trace.prompt_tokens);
    span.record("gen_ai.usage.output_tokens", trace.completion_tokens);
    if let Some(cached) = trace.cached_tokens {
        span.record("gen_ai.usage.cache_read.input_tokens", cached);
    }
    if let Some(reasoning) = trace.reasoning_tokens {
        span.record("gen_ai.usage.reasoning.output_tokens", reasoning);
    }
    if let Some(error) = &trace.error {
        span.record("error.type", error.kind.as_str());
    }
    if let Some(cost) = trace.cost_usd {
        span.record("llm_trace.cost_usd", cost);
    }
}

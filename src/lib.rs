//! # llm-trace
//!
//! Trace every LLM call your application makes: annotate functions with
//! [`#[traced_llm]`](traced_llm), and every call made inside them, however deep, is recorded
//! as one structured [`LlmTrace`]: ids, session, model, parameters, tokens, latency, time to
//! first token, cost in USD, finish reason, error, and input/output previews. Recording costs
//! the caller a queue push; a background thread writes the JSON-lines log.
//!
//! ```
//! use llm_trace::{sink::MemorySink, traced_llm, FinishReason, Tracer, Usage};
//!
//! #[traced_llm(tags = ["support", "classification"])]
//! fn classify_ticket(ticket: &str) -> &'static str {
//!     // Any provider, through the manual API (the OpenAI client is traced for you).
//!     let mut call = llm_trace::call("anthropic", "chat", "claude-haiku-4-5");
//!     call.input(ticket).usage(Usage::new(420, 3)).output("billing");
//!     call.finish(FinishReason::Stop);
//!     "billing"
//! }
//!
//! let memory = MemorySink::new();
//! let tracer = Tracer::builder().sink(memory.clone()).build()?;
//! let _default = tracer.set_default(); // applications call `llm_trace::init` instead
//!
//! assert_eq!(classify_ticket("I was charged twice"), "billing");
//! tracer.flush()?;
//! let trace = &memory.traces()[0];
//! assert_eq!(trace.function_name, "classify_ticket");
//! assert_eq!(trace.tags.as_ref(), ["support", "classification"]);
//! assert!(trace.cost_usd.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See the README for configuration, the record schema and the command-line tool.

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub use llm_trace_core::context::{
    CallContext, LlmContextExt, Scope, StaticScope, WithContext, spawn_thread,
};
pub use llm_trace_core::{
    CallRecorder, Config, DefaultGuard, Error, ErrorKind, FinishReason, FlushError, Guard,
    LlmTrace, Metadata, Overflow, Payloads, Rotation, ShutdownReport, SinkStats, Stats, Timestamp,
    TraceError, TraceId, Tracer, TracerBuilder, Usage, UsageSource, call, config, context, init,
    install, payload, pricing, reader, redact, sink, summary, trace,
};

pub use llm_trace_macros::traced_llm;

/// Not public API: what `#[traced_llm]` expands to. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use llm_trace_core::macro_support::*;
}

/// Tracing of the `async-openai` client (feature `openai`, on by default).
#[cfg(feature = "openai")]
pub mod openai {
    pub use llm_trace_core::openai::*;
}

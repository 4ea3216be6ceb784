//! The core of [llm-trace](https://docs.rs/llm-trace): the trace record, call context, tracer,
//! pricing, sinks and summaries. Applications use it through the `llm-trace` facade crate;
//! depend on this crate directly only to write integrations.
//!
//! How a call travels: an annotated function enters a [`context::Scope`]; a
//! [`CallRecorder`] (from [`call`], or a traced client) captures that context and the request,
//! and when the call ends builds one [`LlmTrace`] with usage and latency. The [`Tracer`]
//! queues it for a background thread that prices it, redacts its previews, adds it to the
//! session [`Summary`](summary::Summary) and writes batches to the [sinks](sink).
//!
//! ```
//! use llm_trace_core::{call, sink::MemorySink, FinishReason, Tracer, Usage};
//!
//! let memory = MemorySink::new();
//! let tracer = Tracer::builder().sink(memory.clone()).build()?;
//! let _default = tracer.set_default();
//!
//! let mut recorder = call("openai", "chat", "gpt-4o-mini");
//! recorder.input("Is this ticket about billing?");
//! recorder.usage(Usage::new(1_000, 20)).output("yes");
//! recorder.finish(FinishReason::Stop);
//!
//! tracer.flush()?;
//! let trace = &memory.traces()[0];
//! assert_eq!(trace.total_tokens, 1_020);
//! assert_eq!(trace.function_name, "unknown"); // no annotated function around this call
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod bytescan;
mod clock;
pub mod config;
pub mod context;
mod error;
#[doc(hidden)]
pub mod macro_support;
#[cfg(feature = "openai")]
pub mod openai;
pub mod payload;
pub mod pricing;
pub mod reader;
mod recent;
mod recorder;
pub mod redact;
pub mod sink;
mod span;
pub mod summary;
pub mod trace;
mod tracer;

pub use config::{Config, Overflow, Payloads, Rotation};
pub use error::Error;
pub use recorder::{CallRecorder, Usage, call};
pub use trace::{
    ErrorKind, FinishReason, LlmTrace, Metadata, Timestamp, TraceError, TraceId, UsageSource,
};
pub use tracer::{
    DefaultGuard, FlushError, Guard, ShutdownReport, SinkStats, Stats, Tracer, TracerBuilder, init,
    install,
};

/// A snapshot of the global tracer's session summary (empty when none is installed).
///
/// ```
/// println!("{}", llm_trace_core::summary());
/// ```
pub fn summary() -> summary::Summary {
    match Tracer::current() {
        Some(tracer) => tracer.summary(),
        None => summary::Summarizer::default().summary("none"),
    }
}

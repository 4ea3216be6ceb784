//! Where finished traces go.
//!
//! A [`Sink`] receives batches of traces on the tracer's background writer thread, never on
//! the thread that made the LLM call, so it may do blocking I/O. Each sink is owned by that
//! one thread; it needs to be `Send` but not `Sync`.
//!
//! Built in: [`JsonlSink`] (the default log file), [`MemorySink`] (tests) and [`TracingSink`]
//! (one `tracing` event per trace). Write your own for anything else:
//!
//! ```
//! use llm_trace_core::{sink::{Sink, SinkError}, LlmTrace};
//!
//! /// Counts calls per model and prints them when the tracer shuts down.
//! #[derive(Default)]
//! struct ModelCounter(std::collections::BTreeMap<String, u64>);
//!
//! impl Sink for ModelCounter {
//!     fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
//!         for trace in batch {
//!             *self.0.entry(trace.model.to_string()).or_default() += 1;
//!         }
//!         Ok(())
//!     }
//!
//!     fn shutdown(&mut self) -> Result<(), SinkError> {
//!         eprintln!("calls per model: {:?}", self.0);
//!         Ok(())
//!     }
//! }
//!
//! let tracer = llm_trace_core::Tracer::builder().sink(ModelCounter::default()).build()?;
//! # Ok::<(), llm_trace_core::Error>(())
//! ```

mod events;
mod jsonl;
mod memory;
#[cfg(feature = "otlp")]
mod otlp;

pub use events::TracingSink;
pub use jsonl::JsonlSink;
#[cfg(feature = "payloads")]
pub(crate) use jsonl::create_private_dir;
pub use memory::MemorySink;
#[cfg(feature = "otlp")]
pub use otlp::{OtlpOptions, OtlpSink};

use std::borrow::Cow;

use crate::trace::LlmTrace;

/// Any error a sink reports. It is counted and logged (rate limited), never returned to the
/// code that made the LLM call.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// A destination for finished traces. See the [module documentation](self) for an example.
pub trait Sink: Send + 'static {
    /// A short name for stats and warnings; the type name by default.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<Self>())
    }

    /// Writes a batch of traces (in the order they were recorded). An error means the whole
    /// batch is counted as failed for this sink.
    ///
    /// The traces come in the boxes the calling threads filled, which go back to those
    /// threads to be filled again once every sink has written them: the writer copies nothing
    /// and leaves their memory unmodified for the next call (`for trace in batch` gives
    /// `&Box<LlmTrace>`, which reads like `&LlmTrace`).
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError>;

    /// Makes everything written so far durable or visible. Called when the queue runs dry,
    /// on [`Tracer::flush`](crate::Tracer::flush), and periodically.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Called once when the tracer shuts down, after the last batch. Flushes by default.
    fn shutdown(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn name(&self) -> Cow<'static, str> {
        (**self).name()
    }
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        (**self).write(batch)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
    fn shutdown(&mut self) -> Result<(), SinkError> {
        (**self).shutdown()
    }
}

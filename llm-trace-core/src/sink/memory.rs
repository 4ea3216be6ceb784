//! A sink that keeps traces in memory, for tests.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Sink, SinkError};
use crate::trace::LlmTrace;

/// Keeps every trace in memory. Clones share the same storage, so keep one clone to read what
/// the tracer wrote (after [`Tracer::flush`](crate::Tracer::flush)).
///
/// ```
/// use llm_trace_core::{sink::MemorySink, FinishReason, Tracer};
///
/// let memory = MemorySink::new();
/// let tracer = Tracer::builder().sink(memory.clone()).build()?;
/// tracer.call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop);
/// tracer.flush();
/// assert_eq!(memory.traces()[0].model.as_ref(), "gpt-4o-mini");
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    traces: Arc<Mutex<Vec<LlmTrace>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A copy of every trace written so far.
    pub fn traces(&self) -> Vec<LlmTrace> {
        self.lock().clone()
    }

    /// Removes and returns every trace written so far.
    pub fn take(&self) -> Vec<LlmTrace> {
        std::mem::take(&mut *self.lock())
    }

    /// How many traces were written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<LlmTrace>> {
        // A panic while holding the lock cannot leave the Vec half-updated.
        self.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Sink for MemorySink {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("memory")
    }

    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        self.lock().extend(batch.iter().map(|trace| LlmTrace::clone(trace)));
        Ok(())
    }
}

//! The crate's error type.

use std::path::PathBuf;

use crate::pricing::PriceError;

/// What can go wrong while setting tracing up. Recording itself never returns an error: a
/// failure there is counted in [`Stats`](crate::Stats) instead, never passed to your call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value (environment variable or `Config` field) is not valid.
    #[error("invalid {setting}={value:?}: {reason}")]
    Config {
        /// The variable or field.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is expected instead.
        reason: String,
    },
    /// The trace log could not be opened for writing.
    #[error(
        "cannot write the trace log at {}: {source} (set LLM_TRACE_DIR or Config::dir to a writable folder)",
        path.display()
    )]
    Log {
        /// The file or folder that could not be created or opened.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The price file could not be loaded.
    #[error(transparent)]
    Prices(#[from] PriceError),
    /// [`init`](crate::init) was called when a global tracer was already installed.
    #[error("llm-trace is already initialized: call llm_trace::init once, at startup")]
    AlreadyInitialized,
    /// The background writer thread could not be started.
    #[error("cannot start the llm-trace writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A flush did not complete.
    #[error(transparent)]
    Flush(#[from] crate::tracer::FlushError),
    /// A sink could not be set up.
    #[error("cannot set up the {sink} sink: {message}")]
    Sink {
        /// Which sink.
        sink: String,
        /// Why.
        message: String,
    },
}

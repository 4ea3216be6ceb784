//! The process-wide tracer and per-thread defaults.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::OnceLock;

use super::Tracer;
use crate::config::Config;
use crate::error::Error;

static GLOBAL: OnceLock<Tracer> = OnceLock::new();

thread_local! {
    static DEFAULTS: RefCell<Vec<Tracer>> = const { RefCell::new(Vec::new()) };
}

/// Installs the global tracer built from `config` (JSON-lines log in `config.dir`). Keep the
/// guard alive for the life of the program: dropping it writes everything still queued and
/// stops the writer.
///
/// ```no_run
/// fn main() -> Result<(), llm_trace_core::Error> {
///     let _guard = llm_trace_core::init(llm_trace_core::Config::from_env()?)?;
///     // ... run the application ...
///     Ok(())
/// } // `_guard` dropped here: every trace is on disk.
/// ```
pub fn init(config: Config) -> Result<Guard, Error> {
    install(Tracer::new(config)?)
}

/// Installs `tracer` as the global tracer (for a tracer built with custom sinks).
///
/// ```no_run
/// use llm_trace_core::{sink::MemorySink, Config, Tracer};
///
/// let tracer = Tracer::builder()
///     .config(Config::from_env()?)
///     .sinks_from_config()
///     .sink(MemorySink::new())
///     .build()?;
/// let _guard = llm_trace_core::install(tracer)?;
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
pub fn install(tracer: Tracer) -> Result<Guard, Error> {
    let mut installed = false;
    GLOBAL.get_or_init(|| {
        installed = true;
        tracer.clone()
    });
    if !installed {
        // Ours was not installed: stop its writer thread now.
        tracer.shutdown(std::time::Duration::from_secs(1));
        return Err(Error::AlreadyInitialized);
    }
    Ok(Guard { tracer })
}

pub(super) fn global() -> Option<&'static Tracer> {
    GLOBAL.get()
}

pub(super) fn current() -> Option<Tracer> {
    DEFAULTS
        .try_with(|defaults| defaults.borrow().last().cloned())
        .ok()
        .flatten()
        .or_else(|| GLOBAL.get().cloned())
}

pub(super) fn set_default(tracer: Tracer) -> DefaultGuard {
    let depth = DEFAULTS
        .try_with(|defaults| {
            let mut defaults = defaults.borrow_mut();
            defaults.push(tracer);
            defaults.len() - 1
        })
        .unwrap_or(usize::MAX);
    DefaultGuard { depth, _not_send: PhantomData }
}

/// Keeps the global tracer running; dropping it shuts the tracer down (writes everything
/// queued, waiting at most the configured shutdown timeout) and reports on standard error
/// anything that could not be written.
#[derive(Debug)]
#[must_use = "dropping the guard shuts tracing down at once; keep it alive in `main`"]
pub struct Guard {
    tracer: Tracer,
}

impl Guard {
    /// The global tracer.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let report = self.tracer.shutdown(self.tracer.inner.shutdown_timeout);
        if !report.is_complete() {
            // At exit, a tracing subscriber may already be gone: say it where it is seen.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("llm-trace: shutdown incomplete: {report}");
            }
        }
    }
}

/// Restores the previous default tracer of this thread when dropped.
#[derive(Debug)]
#[must_use = "the default is restored when the guard is dropped"]
pub struct DefaultGuard {
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let _ = DEFAULTS.try_with(|defaults| defaults.borrow_mut().truncate(self.depth));
    }
}

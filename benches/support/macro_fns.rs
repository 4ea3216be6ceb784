//! The functions `benches/macro_overhead.rs` times and `benches/profile.rs` counts: the same
//! body plain and under `#[traced_llm]`, sync and async, none making an LLM call. Two bodies:
//! next to nothing (a multiplication: the macro's cost laid bare) and building a prompt (what
//! such a function does).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use llm_trace::traced_llm;

#[inline(never)]
pub fn plain_sync(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub fn annotated_sync(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

/// The floor for any annotation that carries context to calls made inside a fn, however
/// deep: save a thread-local word, set it, run the body, restore the word (on unwinding too).
/// Hand-written, with nothing else: no depth, no check of what is restored. What
/// `#[traced_llm]` costs beyond this is its own.
#[inline(never)]
pub fn floor_sync(x: u64) -> u64 {
    let _restore = set_current("floor_sync");
    black_box(x).wrapping_mul(31).rotate_left(7)
}

thread_local! {
    /// The word the floors set: where a call would find its context.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Sets [`CURRENT`] to `scope` until the returned value is dropped.
#[inline(always)]
fn set_current(scope: &'static str) -> Restore {
    Restore(CURRENT.replace(scope.as_ptr() as usize))
}

/// Puts back the [`CURRENT`] it holds when dropped.
struct Restore(usize);

impl Drop for Restore {
    #[inline(always)]
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

pin_project_lite::pin_project! {
    /// The async floor's wrapper: sets [`CURRENT`] for the duration of every poll.
    pub struct Floor<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Floor<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _restore = set_current("floor_async");
        self.project().inner.poll(cx)
    }
}

/// The floor for an async fn: its body in one state machine, wrapped in [`Floor`], which
/// saves, sets and restores [`CURRENT`] around every poll.
#[inline(never)]
pub fn floor_async(x: u64) -> impl Future<Output = u64> {
    Floor { inner: async move { black_box(x).wrapping_mul(31).rotate_left(7) } }
}

#[inline(never)]
pub async fn plain_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub async fn annotated_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

/// What an annotated fn that makes no LLM call typically does: a little real work (here,
/// building a prompt: one allocation and a format).
macro_rules! prompt {
    ($ticket:expr) => {
        format!(
            "You are a support agent. Classify the ticket below as billing, bug or other, \
             and answer with that one word.\n\nTicket: {}",
            $ticket
        )
    };
}

#[inline(never)]
pub fn prompt_plain_sync(ticket: &str) -> String {
    prompt!(ticket)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub fn prompt_annotated_sync(ticket: &str) -> String {
    prompt!(ticket)
}

#[inline(never)]
pub async fn prompt_plain_async(ticket: &str) -> String {
    prompt!(ticket)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub async fn prompt_annotated_async(ticket: &str) -> String {
    prompt!(ticket)
}

/// The floor for the async prompt-building fn: its body in [`Floor`].
#[inline(never)]
pub fn prompt_floor_async(ticket: &str) -> impl Future<Output = String> {
    Floor { inner: async move { prompt!(ticket) } }
}

/// Polls `future` to completion on this thread (these futures never wait).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

//! The functions `benches/macro_overhead.rs` times and `benches/profile.rs` counts: one body,
//! plain and under `#[traced_llm]`, sync and async, none making an LLM call.

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

#[inline(never)]
pub async fn plain_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub async fn annotated_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
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

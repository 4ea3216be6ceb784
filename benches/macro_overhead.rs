//! What `#[traced_llm]` costs a function that makes no LLM call: the same body annotated and
//! not, sync and async (issue 7: nothing measurable).
//!
//! Run: `cargo bench --bench macro_overhead`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use llm_trace::traced_llm;

#[inline(never)]
fn plain_sync(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
fn annotated_sync(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[inline(never)]
async fn plain_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[traced_llm(tags = ["support", "classification"])]
#[inline(never)]
async fn annotated_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn macro_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("macro");
    group.bench_function("sync_plain", |b| b.iter(|| plain_sync(black_box(7))));
    group.bench_function("sync_annotated", |b| b.iter(|| annotated_sync(black_box(7))));
    group.bench_function("async_plain", |b| b.iter(|| block_on(plain_async(black_box(7)))));
    group.bench_function("async_annotated", |b| b.iter(|| block_on(annotated_async(black_box(7)))));
    group.finish();
}

criterion_group!(benches, macro_overhead);
criterion_main!(benches);

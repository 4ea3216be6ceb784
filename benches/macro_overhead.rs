//! What `#[traced_llm]` costs a function that makes no LLM call: the same body annotated and
//! not, sync and async (issue 7: nothing measurable). Two bodies: a multiplication, so that
//! the macro's own cost shows, and building a prompt string, what such a function does. And a
//! floor, sync and async: the multiplication inside a hand-written save, set and restore of
//! one thread-local word (around the call, or around every poll), the least any annotation
//! that carries context to nested calls can do.
//!
//! Run: `cargo bench --bench macro_overhead`.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::macro_fns::{
    annotated_async, annotated_sync, block_on, floor_async, floor_sync, plain_async, plain_sync,
    prompt_annotated_async, prompt_annotated_sync, prompt_floor_async, prompt_plain_async,
    prompt_plain_sync,
};

fn macro_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("macro");
    let ticket = black_box("My invoice for March shows a double charge, can you check it?");
    group.bench_function("sync_plain", |b| b.iter(|| plain_sync(black_box(7))));
    group.bench_function("sync_annotated", |b| b.iter(|| annotated_sync(black_box(7))));
    group.bench_function("sync_floor", |b| b.iter(|| floor_sync(black_box(7))));
    // Awaited by an async caller, as an async fn usually is: its future is built in place.
    group.bench_function("async_plain", |b| {
        b.iter(|| block_on(async { plain_async(black_box(7)).await }))
    });
    group.bench_function("async_annotated", |b| {
        b.iter(|| block_on(async { annotated_async(black_box(7)).await }))
    });
    group.bench_function("async_floor", |b| {
        b.iter(|| block_on(async { floor_async(black_box(7)).await }))
    });
    // Moved once between being built and polled, as a spawned future is: the move reads what
    // was just written, which store-to-load forwarding cannot always serve.
    group.bench_function("async_moved_plain", |b| b.iter(|| block_on(plain_async(black_box(7)))));
    group.bench_function("async_moved_annotated", |b| {
        b.iter(|| block_on(annotated_async(black_box(7))))
    });
    group.bench_function("async_moved_floor", |b| b.iter(|| block_on(floor_async(black_box(7)))));
    group.bench_function("prompt_sync_plain", |b| b.iter(|| prompt_plain_sync(ticket)));
    group.bench_function("prompt_sync_annotated", |b| b.iter(|| prompt_annotated_sync(ticket)));
    group.bench_function("prompt_async_plain", |b| {
        b.iter(|| block_on(async { prompt_plain_async(ticket).await }))
    });
    group.bench_function("prompt_async_annotated", |b| {
        b.iter(|| block_on(async { prompt_annotated_async(ticket).await }))
    });
    group.bench_function("prompt_async_floor", |b| {
        b.iter(|| block_on(async { prompt_floor_async(ticket).await }))
    });
    group.finish();
}

criterion_group!(benches, macro_overhead);
criterion_main!(benches);

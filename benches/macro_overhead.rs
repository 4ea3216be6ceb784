//! What `#[traced_llm]` costs a function that makes no LLM call: the same body annotated and
//! not, sync and async (issue 7: nothing measurable).
//!
//! Run: `cargo bench --bench macro_overhead`.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::macro_fns::{annotated_async, annotated_sync, block_on, plain_async, plain_sync};

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

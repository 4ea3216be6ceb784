//! Session summaries: calls, errors, tokens, cost and latency percentiles, in total and broken
//! down by function, model and tag, in bounded memory.
//!
//! The tracer keeps a [`Summarizer`] updated with every finished call (also those that
//! sampling keeps out of the log); [`Tracer::summary`](crate::Tracer::summary) takes a
//! [`Summary`] snapshot, which prints as a table and serializes to JSON. Memory stays bounded
//! whatever the number of calls: aggregates and histograms only, never a list of traces, and
//! at most [`MAX_GROUPS`] distinct keys per breakdown (further keys are counted under
//! [`OTHER`]).

mod histogram;
mod table;

pub use histogram::Histogram;

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};

use crate::trace::LlmTrace;

/// Distinct keys kept per breakdown before the rest is grouped under [`OTHER`].
pub const MAX_GROUPS: usize = 1_000;

/// The key that collects every group past [`MAX_GROUPS`].
pub const OTHER: &str = "(other)";

/// The numbers a summary needs from one call; borrowed from a trace or from a log line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observation {
    /// Whether the call failed.
    pub error: bool,
    /// Input tokens (including cached).
    pub prompt_tokens: u64,
    /// Output tokens (including reasoning).
    pub completion_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Reasoning output tokens.
    pub reasoning_tokens: u64,
    /// Cost, or `None` when the model has no price.
    pub cost_usd: Option<f64>,
    /// Wall time.
    pub latency_ms: f64,
    /// Time to first token, for streams.
    pub ttft_ms: Option<f64>,
}

impl From<&LlmTrace> for Observation {
    fn from(t: &LlmTrace) -> Self {
        Observation {
            error: t.is_error(),
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            cached_tokens: t.cached_tokens.unwrap_or(0),
            reasoning_tokens: t.reasoning_tokens.unwrap_or(0),
            cost_usd: t.cost_usd,
            latency_ms: t.latency_ms,
            ttft_ms: t.ttft_ms,
        }
    }
}

/// An observation with its durations converted once for every group it is counted in.
struct Sample {
    o: Observation,
    latency_us: u64,
    ttft_us: Option<u64>,
}

impl Sample {
    fn of(o: &Observation) -> Sample {
        Sample {
            o: *o,
            latency_us: histogram::micros(o.latency_ms),
            ttft_us: o.ttft_ms.map(histogram::micros),
        }
    }
}

/// Running totals and latency histograms of a group of calls.
///
/// ```
/// use llm_trace_core::summary::{Aggregate, Observation};
///
/// let mut agg = Aggregate::default();
/// agg.add(&Observation { prompt_tokens: 100, completion_tokens: 20, cost_usd: Some(0.01), latency_ms: 500.0, ..Default::default() });
/// agg.add(&Observation { error: true, cost_usd: None, latency_ms: 30.0, ..Default::default() });
/// let stats = agg.stats("all");
/// assert_eq!((stats.calls, stats.errors, stats.unpriced), (2, 1, 1));
/// assert_eq!(stats.cost_usd, 0.01);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    calls: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    cost_usd: f64,
    unpriced: u64,
    latency: Histogram,
    ttft: Histogram,
}

impl Aggregate {
    /// Counts one call.
    pub fn add(&mut self, o: &Observation) {
        self.add_sample(&Sample::of(o));
    }

    fn add_sample(&mut self, sample: &Sample) {
        let o = &sample.o;
        self.calls += 1;
        self.errors += u64::from(o.error);
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cached_tokens += o.cached_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        match o.cost_usd {
            Some(cost) if cost.is_finite() => self.cost_usd += cost,
            _ => self.unpriced += 1,
        }
        self.latency.record_us(sample.latency_us);
        if let Some(ttft) = sample.ttft_us {
            self.ttft.record_us(ttft);
        }
    }

    /// Adds everything counted in `other`.
    pub fn merge(&mut self, other: &Aggregate) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cached_tokens += other.cached_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_usd += other.cost_usd;
        self.unpriced += other.unpriced;
        self.latency.merge(&other.latency);
        self.ttft.merge(&other.ttft);
    }

    /// Number of calls counted.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The group's figures under `key`.
    pub fn stats(&self, key: impl Into<String>) -> GroupStats {
        GroupStats {
            key: key.into(),
            calls: self.calls,
            errors: self.errors,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cached_tokens: self.cached_tokens,
            reasoning_tokens: self.reasoning_tokens,
            cost_usd: self.cost_usd,
            unpriced: self.unpriced,
            latency_ms: Percentiles::of(&self.latency),
            ttft_ms: Percentiles::of(&self.ttft),
        }
    }
}

/// The figures of one group of calls, as printed and serialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    /// The function, model, tag, … this group is about (`"total"` for all calls).
    pub key: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Reasoning output tokens.
    pub reasoning_tokens: u64,
    /// Cost in US dollars of the priced calls.
    pub cost_usd: f64,
    /// Calls whose model has no price (not included in `cost_usd`).
    pub unpriced: u64,
    /// Wall-time percentiles.
    pub latency_ms: Percentiles,
    /// Time-to-first-token percentiles (streamed calls only).
    pub ttft_ms: Percentiles,
}

impl GroupStats {
    /// `errors / calls`, 0 when there were no calls.
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.errors as f64 / self.calls as f64 }
    }
}

/// Percentiles and mean in milliseconds; `None` when there was no sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Percentiles {
    /// The percentiles of `histogram`.
    pub fn of(histogram: &Histogram) -> Percentiles {
        Percentiles {
            p50: histogram.percentile_ms(0.50),
            p95: histogram.percentile_ms(0.95),
            p99: histogram.percentile_ms(0.99),
            mean: histogram.mean_ms(),
        }
    }
}

/// Aggregates keyed by a string, with at most [`MAX_GROUPS`] keys (the rest go to
/// [`OTHER`]).
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// The groups in order of first appearance.
    groups: Vec<(Box<str>, Aggregate)>,
    /// Where each key's group is.
    index: HashMap<Box<str>, usize, BuildHasherDefault<FxHasher>>,
    /// The group of the latest addition: consecutive calls usually share their key, and then
    /// a comparison finds it without hashing.
    last: usize,
}

impl Breakdown {
    /// Counts `o` under `key`.
    pub fn add(&mut self, key: &str, o: &Observation) {
        let mut hint = self.last;
        self.add_hinted(key, &Sample::of(o), &mut hint);
        self.last = hint;
    }

    /// Counts `o` under `key`, looking first at the group `hint` (updated to where `key` is).
    fn add_hinted(&mut self, key: &str, o: &Sample, hint: &mut usize) {
        if let Some((k, agg)) = self.groups.get_mut(*hint) {
            if **k == *key {
                agg.add_sample(o);
                return;
            }
        }
        let at = match self.index.get(key) {
            Some(&at) => at,
            None => {
                let key = if self.groups.len() < MAX_GROUPS { key } else { OTHER };
                match self.index.get(key) {
                    Some(&at) => at,
                    None => {
                        self.groups.push((Box::from(key), Aggregate::default()));
                        self.index.insert(Box::from(key), self.groups.len() - 1);
                        self.groups.len() - 1
                    }
                }
            }
        };
        self.groups[at].1.add_sample(o);
        *hint = at;
    }

    /// The groups' figures, most expensive first (then most calls, then by key).
    pub fn stats(&self) -> Vec<GroupStats> {
        let mut groups: Vec<GroupStats> =
            self.groups.iter().map(|(key, agg)| agg.stats(key.as_ref())).collect();
        sort_by_cost(&mut groups);
        groups
    }
}

/// Sorts groups most expensive first, then most calls, then by key: the order of every
/// summary table.
///
/// ```
/// use llm_trace_core::summary::{sort_by_cost, Aggregate};
///
/// let mut groups = vec![Aggregate::default().stats("b"), Aggregate::default().stats("a")];
/// sort_by_cost(&mut groups);
/// assert_eq!(groups[0].key, "a");
/// ```
pub fn sort_by_cost(groups: &mut [GroupStats]) {
    groups.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.calls.cmp(&a.calls))
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// A fast hash for short keys (the Fx hash of rustc): the keys are function, model and tag
/// names, and a breakdown holds at most [`MAX_GROUPS`] of them.
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut add = |word: u64| self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keeps the live summary of a tracer: totals plus breakdowns by function, model and tag.
#[derive(Debug, Clone, Default)]
pub struct Summarizer {
    total: Aggregate,
    by_function: Breakdown,
    by_model: Breakdown,
    by_tag: Breakdown,
    /// The tag groups of the latest call, by position: calls usually repeat their tags.
    tag_hints: Vec<usize>,
}

impl Summarizer {
    /// Counts one finished call.
    pub fn add(&mut self, trace: &LlmTrace) {
        let o = Sample::of(&Observation::from(trace));
        self.total.add_sample(&o);
        let mut hint = self.by_function.last;
        self.by_function.add_hinted(&trace.function_name, &o, &mut hint);
        self.by_function.last = hint;
        let mut hint = self.by_model.last;
        self.by_model.add_hinted(&trace.model, &o, &mut hint);
        self.by_model.last = hint;
        if self.tag_hints.len() < trace.tags.len() {
            self.tag_hints.resize(trace.tags.len(), 0);
        }
        for (tag, hint) in trace.tags.iter().zip(&mut self.tag_hints) {
            self.by_tag.add_hinted(tag, &o, hint);
        }
    }

    /// A snapshot of the figures so far.
    pub fn summary(&self, session_id: &str) -> Summary {
        Summary {
            session_id: session_id.to_owned(),
            total: self.total.stats("total"),
            by_function: self.by_function.stats(),
            by_model: self.by_model.stats(),
            by_tag: self.by_tag.stats(),
        }
    }
}

/// A snapshot of a session's calls. `Display` prints a readable table; it serializes to JSON.
///
/// ```
/// use llm_trace_core::{sink::MemorySink, FinishReason, Tracer, Usage};
///
/// let tracer = Tracer::builder().sink(MemorySink::new()).build()?;
/// let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
/// call.usage(Usage::new(1000, 200));
/// call.finish(FinishReason::Stop);
///
/// let summary = tracer.summary();
/// assert_eq!(summary.total.calls, 1);
/// assert_eq!(summary.by_model[0].key, "gpt-4o-mini");
/// println!("{summary}");
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The tracer's session.
    pub session_id: String,
    /// Every call.
    pub total: GroupStats,
    /// By innermost annotated function.
    pub by_function: Vec<GroupStats>,
    /// By requested model.
    pub by_model: Vec<GroupStats>,
    /// By tag (a call with several tags counts in each).
    pub by_tag: Vec<GroupStats>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        table::write_summary(f, self)
    }
}

pub use table::{format_cost, format_count, format_ms, write_group_table};

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
        self.latency.record_ms(o.latency_ms);
        if let Some(ttft) = o.ttft_ms {
            self.ttft.record_ms(ttft);
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
    groups: HashMap<Box<str>, Aggregate>,
}

impl Breakdown {
    /// Counts `o` under `key`.
    pub fn add(&mut self, key: &str, o: &Observation) {
        if let Some(agg) = self.groups.get_mut(key) {
            agg.add(o);
            return;
        }
        let key = if self.groups.len() < MAX_GROUPS { key } else { OTHER };
        self.groups.entry(Box::from(key)).or_default().add(o);
    }

    /// The groups' figures, most expensive first (then most calls, then by key).
    pub fn stats(&self) -> Vec<GroupStats> {
        let mut groups: Vec<GroupStats> =
            self.groups.iter().map(|(key, agg)| agg.stats(key.as_ref())).collect();
        groups.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then(b.calls.cmp(&a.calls))
                .then_with(|| a.key.cmp(&b.key))
        });
        groups
    }
}

/// Keeps the live summary of a tracer: totals plus breakdowns by function, model and tag.
#[derive(Debug, Clone, Default)]
pub struct Summarizer {
    total: Aggregate,
    by_function: Breakdown,
    by_model: Breakdown,
    by_tag: Breakdown,
}

impl Summarizer {
    /// Counts one finished call.
    pub fn add(&mut self, trace: &LlmTrace) {
        let o = Observation::from(trace);
        self.total.add(&o);
        self.by_function.add(&trace.function_name, &o);
        self.by_model.add(&trace.model, &o);
        for tag in trace.tags.iter() {
            self.by_tag.add(tag, &o);
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

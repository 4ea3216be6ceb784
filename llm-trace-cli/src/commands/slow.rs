//! `llm-trace slow`: the slowest calls, kept in a bounded heap.

use std::io::Write;

use llm_trace_core::summary::{format_count, format_ms};
use serde::Serialize;

use super::{TopN, Total, stdout};
use crate::args::{SlowArgs, TextFormat};
use crate::failure::{Failure, Result};
use crate::scan::{self, Collector, Pos, Record};
use crate::text::{clip, fit};
use crate::time;

/// A slow call.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SlowCall {
    pub(crate) trace_id: String,
    #[serde(skip)]
    pub(crate) millis: i64,
    pub(crate) timestamp: String,
    pub(crate) latency_ms: f64,
    pub(crate) ttft_ms: Option<f64>,
    pub(crate) function: String,
    pub(crate) model: String,
    /// The error kind, when the call failed.
    pub(crate) error: Option<String>,
}

/// The `n` slowest calls.
pub(crate) struct Slowest {
    pub(crate) calls: u64,
    top: TopN<(Total, Pos), SlowCall>,
}

impl Slowest {
    pub(crate) fn new(n: usize) -> Slowest {
        Slowest { calls: 0, top: TopN::new(n) }
    }

    /// Slowest first.
    pub(crate) fn into_sorted(self) -> Vec<SlowCall> {
        self.top.into_sorted()
    }
}

impl Collector for Slowest {
    fn add(&mut self, r: &Record<'_>) {
        self.calls += 1;
        self.top.offer((Total(r.row.latency_ms), r.pos), || SlowCall {
            trace_id: r.row.trace_id.to_string(),
            millis: r.millis,
            timestamp: time::rfc3339(r.millis),
            latency_ms: r.row.latency_ms,
            ttft_ms: r.row.ttft_ms,
            function: r.row.function_name.to_string(),
            model: r.row.model.to_string(),
            error: r.row.error.as_ref().map(|e| e.kind.to_string()),
        });
    }

    fn merge(&mut self, other: Slowest) {
        self.calls += other.calls;
        self.top.merge(other.top);
    }
}

#[derive(Serialize)]
struct SlowOut {
    calls: u64,
    slowest: Vec<SlowCall>,
}

pub(crate) fn run(args: SlowArgs) -> Result<()> {
    let sources = scan::open_inputs(&args.input.paths)?;
    let top = args.top;
    let (slowest, stats) = scan::scan(sources, &args.filter.filter(), || Slowest::new(top))?;
    let calls = slowest.calls;
    let list = slowest.into_sorted();
    let mut out = stdout();
    match args.format {
        TextFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &SlowOut { calls, slowest: list })
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TextFormat::Text if !list.is_empty() => {
            writeln!(out, "the {} slowest of {} calls\n", list.len(), format_count(calls))?;
            let fn_w =
                list.iter().map(|c| c.function.chars().count()).max().unwrap_or(0).clamp(8, 32);
            let model_w =
                list.iter().map(|c| c.model.chars().count()).max().unwrap_or(0).clamp(5, 32);
            writeln!(
                out,
                "{:>9}  {:>9}  {}  {}  {:<19}  trace id",
                "latency",
                "ttft",
                fit("function", fn_w),
                fit("model", model_w),
                "time (UTC)"
            )?;
            for c in &list {
                let failed =
                    c.error.as_deref().map(|k| format!("  ({})", clip(k, 30))).unwrap_or_default();
                writeln!(
                    out,
                    "{:>9}  {:>9}  {}  {}  {}  {}{failed}",
                    format_ms(Some(c.latency_ms)),
                    format_ms(c.ttft_ms),
                    fit(&clip(&c.function, fn_w), fn_w),
                    fit(&clip(&c.model, model_w), model_w),
                    time::short(c.millis),
                    clip(&c.trace_id, 64),
                )?;
            }
        }
        TextFormat::Text => {}
    }
    out.flush()?;
    if stats.matched == 0 {
        return Err(Failure::NoMatch("no calls matched".into()));
    }
    Ok(())
}

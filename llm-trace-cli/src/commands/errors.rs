//! `llm-trace errors`: failed calls grouped by error kind and function, with the latest ones.

use std::collections::HashMap;
use std::io::Write;

use llm_trace_core::summary::format_count;
use serde::Serialize;

use super::{MAX_KEYS, OTHER, TopN, stdout};
use crate::args::{ErrorsArgs, TextFormat};
use crate::failure::{Failure, Result};
use crate::scan::{self, Collector, Pos, Record};
use crate::text::{self, clip, fit};
use crate::time;

/// Rows of the kind-and-function table in text output.
const GROUP_ROWS: usize = 30;

/// Longest error message kept per example.
const MESSAGE_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: u64,
    last_seen: i64,
}

/// A failed call, as shown in examples.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Failed {
    pub(crate) trace_id: String,
    #[serde(skip)]
    pub(crate) millis: i64,
    pub(crate) timestamp: String,
    pub(crate) function: String,
    pub(crate) model: String,
    pub(crate) kind: String,
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
    pub(crate) latency_ms: f64,
}

impl Failed {
    fn of(r: &Record<'_>) -> Failed {
        let error = r.row.error.as_ref();
        Failed {
            trace_id: r.row.trace_id.to_string(),
            millis: r.millis,
            timestamp: time::rfc3339(r.millis),
            function: r.row.function_name.to_string(),
            model: r.row.model.to_string(),
            kind: error.map(|e| e.kind.to_string()).unwrap_or_default(),
            status: error.and_then(|e| e.status),
            message: error
                .map(|e| e.message.chars().take(MESSAGE_CHARS).collect())
                .unwrap_or_default(),
            latency_ms: r.row.latency_ms,
        }
    }
}

/// Failures by kind and function, and the latest few.
pub(crate) struct Errors {
    pub(crate) calls: u64,
    pub(crate) failed: u64,
    tallies: HashMap<Box<str>, HashMap<Box<str>, Tally>>,
    keys: usize,
    latest: TopN<(i64, Pos), Failed>,
}

impl Errors {
    pub(crate) fn new(examples: usize) -> Errors {
        Errors {
            calls: 0,
            failed: 0,
            tallies: HashMap::new(),
            keys: 0,
            latest: TopN::new(examples),
        }
    }

    fn tally(&mut self, kind: &str, function: &str, count: u64, last_seen: i64) {
        let functions = match self.tallies.get_mut(kind) {
            Some(functions) => functions,
            None => self.tallies.entry(Box::from(kind)).or_default(),
        };
        let tally = match functions.get_mut(function) {
            Some(tally) => tally,
            None => {
                let function = if self.keys < MAX_KEYS { function } else { OTHER };
                self.keys += 1;
                functions.entry(Box::from(function)).or_default()
            }
        };
        tally.last_seen = if tally.count == 0 { last_seen } else { tally.last_seen.max(last_seen) };
        tally.count += count;
    }

    /// `(kind, function, count, last seen)`, most frequent first.
    pub(crate) fn groups(&self) -> Vec<(String, String, u64, i64)> {
        let mut all: Vec<(String, String, u64, i64)> = self
            .tallies
            .iter()
            .flat_map(|(kind, functions)| {
                functions.iter().map(move |(function, t)| {
                    (kind.to_string(), function.to_string(), t.count, t.last_seen)
                })
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        all
    }

    /// The latest failures, newest first.
    pub(crate) fn latest(self) -> Vec<Failed> {
        self.latest.into_sorted()
    }
}

impl Collector for Errors {
    fn add(&mut self, r: &Record<'_>) {
        self.calls += 1;
        let Some(error) = &r.row.error else { return };
        self.failed += 1;
        self.tally(&error.kind, &r.row.function_name, 1, r.millis);
        self.latest.offer((r.millis, r.pos), || Failed::of(r));
    }

    fn merge(&mut self, other: Errors) {
        self.calls += other.calls;
        self.failed += other.failed;
        for (kind, functions) in other.tallies {
            for (function, t) in functions {
                self.tally(&kind, &function, t.count, t.last_seen);
            }
        }
        self.latest.merge(other.latest);
    }
}

#[derive(Serialize)]
struct GroupOut {
    kind: String,
    function: String,
    count: u64,
    share: f64,
    last_seen: String,
}

#[derive(Serialize)]
struct ErrorsOut {
    calls: u64,
    errors: u64,
    error_rate: f64,
    groups: Vec<GroupOut>,
    examples: Vec<Failed>,
}

pub(crate) fn run(args: ErrorsArgs) -> Result<()> {
    let sources = scan::open_inputs(&args.input.paths)?;
    let examples = args.examples;
    let (errors, _) = scan::scan(sources, &args.filter.filter(), || Errors::new(examples))?;
    let (calls, failed) = (errors.calls, errors.failed);
    let share = |count: u64| if failed == 0 { 0.0 } else { count as f64 / failed as f64 };
    let groups = errors.groups();
    let latest = errors.latest();
    let mut out = stdout();
    match args.format {
        TextFormat::Json => {
            let doc = ErrorsOut {
                calls,
                errors: failed,
                error_rate: if calls == 0 { 0.0 } else { failed as f64 / calls as f64 },
                groups: groups
                    .into_iter()
                    .map(|(kind, function, count, last)| GroupOut {
                        kind,
                        function,
                        count,
                        share: share(count),
                        last_seen: time::rfc3339(last),
                    })
                    .collect(),
                examples: latest,
            };
            serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TextFormat::Text if failed > 0 => {
            writeln!(
                out,
                "{} failed calls of {} ({:.1}%)\n",
                format_count(failed),
                format_count(calls),
                failed as f64 / calls.max(1) as f64 * 100.0
            )?;
            let kind_w =
                groups.iter().map(|g| g.0.chars().count().min(24)).max().unwrap_or(0).max(4);
            let fn_w = groups.iter().map(|g| g.1.chars().count().min(40)).max().unwrap_or(0).max(8);
            let count_w = groups.iter().map(|g| format_count(g.2).len()).max().unwrap_or(0).max(5);
            writeln!(
                out,
                "{}  {}  {:>count_w$}  {:>6}  last seen (UTC)",
                fit("kind", kind_w),
                fit("function", fn_w),
                "calls",
                "share"
            )?;
            for (kind, function, count, last) in groups.iter().take(GROUP_ROWS) {
                writeln!(
                    out,
                    "{}  {}  {:>count_w$}  {:>5.1}%  {}",
                    fit(&text::clean(kind), kind_w),
                    fit(&text::clean(function), fn_w),
                    format_count(*count),
                    share(*count) * 100.0,
                    time::short(*last)
                )?;
            }
            if groups.len() > GROUP_ROWS {
                let rest = &groups[GROUP_ROWS..];
                let calls: u64 = rest.iter().map(|g| g.2).sum();
                writeln!(
                    out,
                    "… and {} more kind and function pairs with {} failed calls (all of them in --format json)",
                    rest.len(),
                    format_count(calls)
                )?;
            }
            if !latest.is_empty() {
                writeln!(out, "\nlatest {} failures, newest first", latest.len())?;
                for f in &latest {
                    let status = f.status.map(|s| format!(" {s}")).unwrap_or_default();
                    writeln!(
                        out,
                        "\n{}  {}{}  {} · {}",
                        time::short(f.millis),
                        clip(&f.kind, 40),
                        status,
                        clip(&f.function, 60),
                        clip(&f.model, 60)
                    )?;
                    writeln!(out, "  trace {}", clip(&f.trace_id, 64))?;
                    writeln!(out, "  {}", clip(&f.message, 300))?;
                }
            }
        }
        TextFormat::Text => {}
    }
    out.flush()?;
    if failed == 0 {
        return Err(Failure::NoMatch(format!(
            "no failed calls among {} matching calls",
            format_count(calls)
        )));
    }
    Ok(())
}

//! `llm-trace summary`: totals and a breakdown, as a table, JSON or CSV.

use std::fmt::Write as _;
use std::io::Write;

use llm_trace_core::summary::{
    Aggregate, GroupStats, Percentiles, format_cost, format_count, format_ms, write_group_table,
};
use serde::Serialize;

use super::{Groups, stdout};
use crate::args::{By, SummaryArgs, TableFormat};
use crate::failure::{Failure, Result};
use crate::scan::{self, Collector, Record};
use crate::text;
use crate::time::{self, DAY_MS, HOUR_MS};

/// The group of calls without any tag, in `--by tag`.
pub(crate) const UNTAGGED: &str = "(untagged)";

pub(crate) struct Summary {
    by: By,
    pub(crate) total: Aggregate,
    pub(crate) groups: Groups,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
    /// The last day or hour key built, reused while records stay in that period.
    period: Option<(i64, String)>,
}

impl Summary {
    pub(crate) fn new(by: By) -> Summary {
        Summary {
            by,
            total: Aggregate::default(),
            groups: Groups::default(),
            first: None,
            last: None,
            period: None,
        }
    }
}

/// The day or hour key of `millis`, rebuilt only when the period changes.
fn period_key(period: &mut Option<(i64, String)>, by: By, millis: i64) -> &str {
    let (size, key): (i64, fn(i64) -> String) =
        if by == By::Day { (DAY_MS, time::day_key) } else { (HOUR_MS, time::hour_key) };
    let index = millis.div_euclid(size);
    if period.as_ref().is_none_or(|(i, _)| *i != index) {
        *period = Some((index, key(millis)));
    }
    period.as_ref().map_or("", |(_, key)| key.as_str())
}

impl Collector for Summary {
    fn add(&mut self, r: &Record<'_>) {
        let o = r.row.observation();
        self.total.add(&o);
        self.first = Some(self.first.map_or(r.millis, |f| f.min(r.millis)));
        self.last = Some(self.last.map_or(r.millis, |l| l.max(r.millis)));
        match self.by {
            By::Function => self.groups.add(&r.row.function_name, &o),
            By::Model => self.groups.add(&r.row.model, &o),
            By::Session => self.groups.add(&r.row.session_id, &o),
            By::Tag if r.row.tags.is_empty() => self.groups.add(UNTAGGED, &o),
            By::Tag => {
                for tag in &r.row.tags {
                    self.groups.add(tag, &o);
                }
            }
            By::Day | By::Hour => {
                let key = period_key(&mut self.period, self.by, r.millis);
                self.groups.add(key, &o);
            }
        }
    }

    fn merge(&mut self, other: Summary) {
        self.total.merge(&other.total);
        self.groups.merge(other.groups);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last);
    }
}

/// A group as written in JSON: the library's [`GroupStats`] plus the error rate.
#[derive(Serialize)]
struct GroupOut<'a> {
    #[serde(flatten)]
    stats: &'a GroupStats,
    error_rate: f64,
}

impl<'a> From<&'a GroupStats> for GroupOut<'a> {
    fn from(stats: &'a GroupStats) -> Self {
        GroupOut { stats, error_rate: stats.error_rate() }
    }
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    total: GroupOut<'a>,
    groups: Vec<GroupOut<'a>>,
}

pub(crate) fn run(args: SummaryArgs) -> Result<()> {
    let sources = scan::open_inputs(&args.input.paths)?;
    let by = args.by;
    let (summary, stats) = scan::scan(sources, &args.filter.filter(), || Summary::new(by))?;
    let total = summary.total.stats("total");
    let groups = match by {
        By::Day | By::Hour => summary.groups.by_key(),
        _ => summary.groups.by_cost(),
    };
    let mut out = stdout();
    match args.format {
        TableFormat::Json => {
            let doc = SummaryOut {
                total: (&total).into(),
                groups: groups.iter().map(GroupOut::from).collect(),
            };
            serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TableFormat::Csv => write_csv(&mut out, by, &total, &groups)?,
        TableFormat::Table if stats.matched > 0 => {
            out.write_all(table(by, &total, &groups, summary.first, summary.last)?.as_bytes())?;
        }
        TableFormat::Table => {}
    }
    out.flush()?;
    if stats.matched == 0 {
        return Err(Failure::NoMatch(format!(
            "no calls matched ({} records read)",
            format_count(stats.records)
        )));
    }
    Ok(())
}

/// The readable form: a header with the totals, then the library's group table with p99 and
/// error-rate columns added and a total row.
pub(crate) fn table(
    by: By,
    total: &GroupStats,
    groups: &[GroupStats],
    first: Option<i64>,
    last: Option<i64>,
) -> Result<String> {
    let mut out = String::new();
    write!(out, "{} calls", format_count(total.calls))?;
    if let (Some(first), Some(last)) = (first, last) {
        write!(out, " · {} → {} UTC", time::short(first), time::short(last))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} errors ({:.1}%) · cost {}{} · tokens {} prompt ({} cached) + {} completion ({} reasoning)",
        format_count(total.errors),
        total.error_rate() * 100.0,
        format_cost(total.cost_usd),
        match total.unpriced {
            0 => String::new(),
            n => format!(" (+{} unpriced calls)", format_count(n)),
        },
        format_count(total.prompt_tokens),
        format_count(total.cached_tokens),
        format_count(total.completion_tokens),
        format_count(total.reasoning_tokens),
    )?;
    write!(out, "latency {}", percentiles(&total.latency_ms))?;
    if total.ttft_ms.p50.is_some() {
        write!(out, " · time to first token {}", percentiles(&total.ttft_ms))?;
    }
    writeln!(out)?;
    writeln!(out)?;

    let cleaned: Vec<GroupStats> = groups
        .iter()
        .map(|g| GroupStats { key: text::clip(&g.key, 48), ..g.clone() })
        .chain([total.clone()])
        .collect();
    let mut core = String::new();
    write_group_table(&mut core, by.name(), &cleaned)?;
    // Two more columns after the library's: p99 and the error rate.
    let extra: Vec<[String; 2]> = std::iter::once(["p99".to_owned(), "err %".to_owned()])
        .chain(
            cleaned
                .iter()
                .map(|g| [format_ms(g.latency_ms.p99), format!("{:.1}%", g.error_rate() * 100.0)]),
        )
        .collect();
    let widths = [0, 1].map(|i| extra.iter().map(|e| e[i].chars().count()).max().unwrap_or(0));
    let lines: Vec<String> = core
        .lines()
        .zip(&extra)
        .map(|(line, [p99, err])| {
            format!("{line}  {p99:>w0$}  {err:>w1$}", w0 = widths[0], w1 = widths[1])
        })
        .collect();
    let rows = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if i + 1 == rows {
            writeln!(out, "{}", "─".repeat(line.chars().count()))?;
        }
        writeln!(out, "{line}")?;
    }
    Ok(out)
}

fn percentiles(p: &Percentiles) -> String {
    format!(
        "p50 {} · p95 {} · p99 {} · mean {}",
        format_ms(p.p50),
        format_ms(p.p95),
        format_ms(p.p99),
        format_ms(p.mean)
    )
}

const CSV_HEADER: &str = "by,key,calls,errors,error_rate,prompt_tokens,completion_tokens,cached_tokens,\
reasoning_tokens,cost_usd,unpriced,latency_p50_ms,latency_p95_ms,latency_p99_ms,latency_mean_ms,\
ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,ttft_mean_ms";

/// One row per group (first column: the `--by` dimension), then one `total` row.
fn write_csv(
    out: &mut impl Write,
    by: By,
    total: &GroupStats,
    groups: &[GroupStats],
) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = groups.iter().map(|g| (by.name(), g.key.as_str(), g)).chain([("total", "", total)]);
    for (dimension, key, g) in rows {
        writeln!(
            out,
            "{dimension},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            text::csv(key),
            g.calls,
            g.errors,
            g.error_rate(),
            g.prompt_tokens,
            g.completion_tokens,
            g.cached_tokens,
            g.reasoning_tokens,
            g.cost_usd,
            g.unpriced,
            opt(g.latency_ms.p50),
            opt(g.latency_ms.p95),
            opt(g.latency_ms.p99),
            opt(g.latency_ms.mean),
            opt(g.ttft_ms.p50),
            opt(g.ttft_ms.p95),
            opt(g.ttft_ms.p99),
            opt(g.ttft_ms.mean),
        )?;
    }
    Ok(())
}

//! `llm-trace report --html FILE`: one self-contained HTML page.
//!
//! Inline CSS and inline SVG charts drawn here; no external resource, and a Content Security
//! Policy that forbids loading any (and running any script but the page's own, which only
//! measures the drawn charts into `data-*` attributes, so a headless browser can check them).
//! Every string from the log is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use llm_trace_core::TraceId;
use llm_trace_core::summary::{Aggregate, GroupStats, format_cost, format_count, format_ms};

use super::Groups;
use super::errors::{Errors, Failed};
use super::slow::{SlowCall, Slowest};
use crate::args::ReportArgs;
use crate::failure::{Failure, Result};
use crate::scan::{self, Collector, Record};
use crate::text::html;
use crate::time::{self, DAY_MS, HOUR_MS};

/// Slowest calls listed.
const SLOWEST: usize = 15;
/// Latest failed calls listed.
const FAILED: usize = 25;
/// Rows of the errors-by-kind-and-function table.
const ERROR_GROUPS: usize = 20;
/// Bars per "cost by" chart; the rest are summed into one.
const TOP_GROUPS: usize = 12;
/// Hours kept for the time charts (11 years), so memory stays bounded whatever the log.
const MAX_HOURS: usize = 100_000;

/// Upper bounds (ms) of the latency histogram's bins; the last bin is open-ended.
const LATENCY_EDGES: [f64; 15] = [
    100.0, 200.0, 300.0, 500.0, 750.0, 1_000.0, 1_500.0, 2_000.0, 3_000.0, 5_000.0, 7_500.0,
    10_000.0, 15_000.0, 30_000.0, 60_000.0,
];

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    calls: u64,
    errors: u64,
    cost: f64,
}

/// Everything the page shows, in bounded memory.
struct Report {
    total: Aggregate,
    by_function: Groups,
    by_model: Groups,
    hours: BTreeMap<i64, Bucket>,
    latency: [u64; LATENCY_EDGES.len() + 1],
    slowest: Slowest,
    errors: Errors,
    first: Option<i64>,
    last: Option<i64>,
}

impl Report {
    fn new() -> Report {
        Report {
            total: Aggregate::default(),
            by_function: Groups::default(),
            by_model: Groups::default(),
            hours: BTreeMap::new(),
            latency: [0; LATENCY_EDGES.len() + 1],
            slowest: Slowest::new(SLOWEST),
            errors: Errors::new(FAILED),
            first: None,
            last: None,
        }
    }

    fn bucket(&mut self, hour: i64) -> &mut Bucket {
        if self.hours.len() >= MAX_HOURS && !self.hours.contains_key(&hour) {
            // Past the limit, the oldest hour absorbs the rest (never happens in practice).
            let first = *self.hours.keys().next().unwrap_or(&hour);
            return self.hours.entry(first).or_default();
        }
        self.hours.entry(hour).or_default()
    }
}

impl Collector for Report {
    fn add(&mut self, r: &Record<'_>) {
        let o = r.row.observation();
        self.total.add(&o);
        self.by_function.add(&r.row.function_name, &o);
        self.by_model.add(&r.row.model, &o);
        let bucket = self.bucket(r.millis.div_euclid(HOUR_MS));
        bucket.calls += 1;
        bucket.errors += u64::from(o.error);
        bucket.cost += o.cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0);
        let bin = LATENCY_EDGES
            .iter()
            .position(|&edge| o.latency_ms < edge)
            .unwrap_or(LATENCY_EDGES.len());
        self.latency[bin] += 1;
        self.slowest.add(r);
        self.errors.add(r);
        self.first = Some(self.first.map_or(r.millis, |f| f.min(r.millis)));
        self.last = Some(self.last.map_or(r.millis, |l| l.max(r.millis)));
    }

    fn merge(&mut self, other: Report) {
        self.total.merge(&other.total);
        self.by_function.merge(other.by_function);
        self.by_model.merge(other.by_model);
        for (hour, b) in other.hours {
            let mine = self.bucket(hour);
            mine.calls += b.calls;
            mine.errors += b.errors;
            mine.cost += b.cost;
        }
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
        self.slowest.merge(other.slowest);
        self.errors.merge(other.errors);
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last);
    }
}

pub(crate) fn run(args: ReportArgs) -> Result<()> {
    let sources = scan::open_inputs(&args.input.paths)?;
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let (report, stats) = scan::scan(sources, &args.filter.filter(), Report::new)?;
    if stats.matched == 0 {
        return Err(Failure::NoMatch(format!(
            "no calls matched ({} records read); {} not written",
            format_count(stats.records),
            args.html.display()
        )));
    }
    let page = render(report, &args.title, &names, stats.skipped)?;
    write_atomically(&args.html, page.as_bytes())?;
    eprintln!("llm-trace: wrote {} ({} calls)", args.html.display(), format_count(stats.matched));
    Ok(())
}

/// Writes next to `path` then renames, so a reader never sees half a page.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail =
        |e: std::io::Error| Failure::Runtime(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The script that proves the charts were drawn: it measures every chart and its marks and
/// writes the figures into `data-*` attributes (read by the headless-browser test).
const CHECK_SCRIPT: &str = r#"(function () {
  var charts = document.querySelectorAll('svg.chart'), drawn = 0;
  charts.forEach(function (svg) {
    var box = svg.getBoundingClientRect(), marks = svg.querySelectorAll('.bar, .dot'), visible = 0;
    marks.forEach(function (m) { var b = m.getBBox(); if (b.width > 0 && b.height > 0) visible++; });
    svg.setAttribute('data-rendered-width', Math.round(box.width));
    svg.setAttribute('data-rendered-height', Math.round(box.height));
    svg.setAttribute('data-marks', marks.length);
    svg.setAttribute('data-visible-marks', visible);
    if (box.width > 0 && box.height > 0 && visible > 0) drawn++;
  });
  document.body.setAttribute('data-charts', charts.length);
  document.body.setAttribute('data-charts-drawn', drawn);
  document.body.setAttribute('data-scripts', document.scripts.length);
  document.body.setAttribute('data-ready', '1');
})();"#;

const STYLE: &str = r#"
:root { --ink: #1d2433; --muted: #667085; --line: #e4e7ec; --bg: #f5f6f8; --cost: #4f6bed;
        --err: #d64545; --lat: #1f9e89; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
.kpi .note { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; margin-top: 14px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px 8px; }
figure.wide { grid-column: 1 / -1; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figcaption small { font-weight: 400; color: var(--muted); margin-left: 6px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font-size: 11px; fill: var(--muted); }
svg.chart text.name { fill: var(--ink); }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { stroke: #c4c9d2; stroke-width: 1; }
svg.chart .bar.cost { fill: var(--cost); }
svg.chart .bar.lat { fill: var(--lat); }
svg.chart .bar:hover { opacity: .8; }
svg.chart .line { fill: none; stroke: var(--err); stroke-width: 2; }
svg.chart .area { fill: var(--err); opacity: .08; }
svg.chart .dot { fill: var(--err); }
.empty { color: var(--muted); padding: 24px 0; text-align: center; }
.more { color: var(--muted); font-size: 12px; margin: 6px 2px 0; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line);
        border-radius: 10px; overflow: hidden; font-size: 13px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #fafbfc; color: var(--muted); font-weight: 600; font-size: 12px; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: nowrap; }
td.msg { max-width: 420px; overflow-wrap: anywhere; }
.kind { display: inline-block; padding: 0 6px; border-radius: 4px; background: #fdecec; color: #a12c2c; font-size: 12px; }
footer { color: var(--muted); font-size: 12px; margin-top: 28px; }
"#;

fn render(r: Report, title: &str, sources: &[String], skipped: u64) -> Result<String> {
    let total = r.total.stats("total");
    let nonce = TraceId::new().to_string().replace('-', "");
    let mut page = String::with_capacity(64 * 1024);
    let (first, last) = (r.first.unwrap_or(0), r.last.unwrap_or(0));
    write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         img-src data:; script-src 'nonce-{nonce}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        html(title)
    )?;
    writeln!(page, "<h1>{}</h1>", html(title))?;
    writeln!(
        page,
        "<p class=\"sub\">{} calls from {} to {} UTC</p>",
        format_count(total.calls),
        time::short(first),
        time::short(last)
    )?;
    kpis(&mut page, &total)?;

    page.push_str("<div class=\"grid\">\n");
    // Up to two days by the hour (at most 49 columns), longer spans by the day.
    let hourly = (last.div_euclid(HOUR_MS) - first.div_euclid(HOUR_MS)) <= 48;
    let series = time_series(&r, hourly);
    let per = if hourly { "hour" } else { "day" };
    let priced = total.calls > total.unpriced;
    figure(
        &mut page,
        true,
        &format!("Cost per {per}"),
        "USD, priced calls",
        &if priced {
            let points: Vec<(String, f64, String)> = series
                .iter()
                .map(|(t, b)| {
                    (
                        label(*t, hourly),
                        b.cost,
                        format!(
                            "{}: {} · {} calls",
                            full_label(*t, hourly),
                            format_cost(b.cost),
                            format_count(b.calls)
                        ),
                    )
                })
                .collect();
            column_chart(&points, (1120.0, 240.0), "cost", 0.0, axis_cost)
        } else {
            empty("No priced calls.")
        },
    )?;
    figure(&mut page, false, "Cost by function", "", &cost_by(&r.by_function.by_cost(), priced))?;
    figure(&mut page, false, "Cost by model", "", &cost_by(&r.by_model.by_cost(), priced))?;
    let p = &total.latency_ms;
    figure(
        &mut page,
        false,
        "Latency",
        &format!("p50 {} · p95 {} · p99 {}", format_ms(p.p50), format_ms(p.p95), format_ms(p.p99)),
        &latency_chart(&r.latency),
    )?;
    let points: Vec<(String, f64, String)> = series
        .iter()
        .map(|(t, b)| {
            let rate = if b.calls == 0 { 0.0 } else { b.errors as f64 / b.calls as f64 };
            let tip = format!(
                "{}: {:.1}% ({} of {} calls failed)",
                full_label(*t, hourly),
                rate * 100.0,
                format_count(b.errors),
                format_count(b.calls)
            );
            (label(*t, hourly), rate, tip)
        })
        .collect();
    figure(
        &mut page,
        false,
        &format!("Error rate per {per}"),
        &format!("{:.1}% overall", total.error_rate() * 100.0),
        &line_chart(&points, 560.0, 240.0),
    )?;
    page.push_str("</div>\n");

    error_tables(&mut page, r.errors)?;
    slow_table(&mut page, &r.slowest.into_sorted())?;

    let skipped = if skipped > 0 {
        format!(" · {} lines skipped", format_count(skipped))
    } else {
        String::new()
    };
    let names: Vec<String> = sources.iter().map(|s| html(s).into_owned()).collect();
    writeln!(
        page,
        "<footer>Generated by llm-trace {} at {} UTC from {}{skipped}.</footer>",
        env!("CARGO_PKG_VERSION"),
        time::short(time::now_millis()),
        names.join(", ")
    )?;
    write!(page, "</main>\n<script nonce=\"{nonce}\">{CHECK_SCRIPT}</script>\n</body>\n</html>\n")?;
    Ok(page)
}

fn kpis(page: &mut String, t: &GroupStats) -> Result<()> {
    let unpriced = if t.unpriced > 0 {
        format!("+{} unpriced calls", format_count(t.unpriced))
    } else {
        "all calls priced".into()
    };
    let cards = [
        ("Calls", format_count(t.calls), String::new()),
        ("Errors", format_count(t.errors), format!("{:.1}% of calls", t.error_rate() * 100.0)),
        ("Cost", format_cost(t.cost_usd), unpriced),
        (
            "Tokens",
            format_count(t.prompt_tokens + t.completion_tokens),
            format!(
                "{} in ({} cached) · {} out",
                format_count(t.prompt_tokens),
                format_count(t.cached_tokens),
                format_count(t.completion_tokens)
            ),
        ),
        (
            "Latency p50",
            format_ms(t.latency_ms.p50),
            format!("p95 {} · p99 {}", format_ms(t.latency_ms.p95), format_ms(t.latency_ms.p99)),
        ),
        (
            "Time to first token",
            format_ms(t.ttft_ms.p50),
            if t.ttft_ms.p50.is_some() {
                format!("p50 · p95 {}", format_ms(t.ttft_ms.p95))
            } else {
                "no streamed calls".into()
            },
        ),
    ];
    page.push_str("<section class=\"kpis\">\n");
    for (label, value, note) in cards {
        writeln!(
            page,
            "<div class=\"kpi\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"note\">{}</div></div>",
            html(label),
            html(&value),
            html(&note)
        )?;
    }
    page.push_str("</section>\n");
    Ok(())
}

fn figure(page: &mut String, wide: bool, title: &str, note: &str, body: &str) -> Result<()> {
    let note =
        if note.is_empty() { String::new() } else { format!("<small>{}</small>", html(note)) };
    writeln!(
        page,
        "<figure{}><figcaption>{}{note}</figcaption>{body}</figure>",
        if wide { " class=\"wide\"" } else { "" },
        html(title)
    )?;
    Ok(())
}

fn empty(message: &str) -> String {
    format!("<p class=\"empty\">{}</p>", html(message))
}

/// Every hour (or day) from the first to the last, gaps included.
fn time_series(r: &Report, hourly: bool) -> Vec<(i64, Bucket)> {
    let mut out: Vec<(i64, Bucket)> = Vec::new();
    let per = if hourly { 1 } else { 24 };
    let mut grouped: BTreeMap<i64, Bucket> = BTreeMap::new();
    for (&hour, b) in &r.hours {
        let key = hour.div_euclid(per) * per * HOUR_MS;
        let g = grouped.entry(key).or_default();
        g.calls += b.calls;
        g.errors += b.errors;
        g.cost += b.cost;
    }
    let (Some(&start), Some(&end)) = (grouped.keys().next(), grouped.keys().next_back()) else {
        return out;
    };
    let step = per * HOUR_MS;
    let mut t = start;
    while t <= end {
        out.push((t, grouped.get(&t).copied().unwrap_or_default()));
        t += step;
    }
    out
}

fn label(millis: i64, hourly: bool) -> String {
    let day = time::day_key(millis);
    if hourly {
        format!("{} {:02}h", &day[5..], millis.rem_euclid(DAY_MS) / HOUR_MS)
    } else {
        day[5..].to_owned()
    }
}

fn full_label(millis: i64, hourly: bool) -> String {
    if hourly {
        format!("{}:00 UTC", time::hour_key(millis).replace('T', " "))
    } else {
        time::day_key(millis)
    }
}

fn axis_cost(v: f64) -> String {
    if v >= 100.0 {
        return format!("${}", format_count(v.round() as u64));
    }
    let text = format_cost(v);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A round number at or above `v` (1, 2, 2.5, 5 × 10ⁿ).
fn nice_ceiling(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * exp >= v * 0.999_999 {
            return m * exp;
        }
    }
    10.0 * exp
}

const LEFT: f64 = 58.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// Horizontal grid lines and y labels; returns the y scale's maximum.
fn y_axis(svg: &mut String, w: f64, h: f64, max: f64, fmt: fn(f64) -> String) -> f64 {
    let top = nice_ceiling(max);
    // 2.5 and 5 (× 10ⁿ) divide into fifths, 1 and 2 into quarters: round labels either way.
    let mantissa = top / 10f64.powf(top.log10().floor());
    let steps = if (mantissa - 2.5).abs() < 1e-9 || (mantissa - 5.0).abs() < 1e-9 { 5 } else { 4 };
    let plot_h = h - TOP - BOTTOM;
    for i in 0..=steps {
        let v = top * f64::from(i) / f64::from(steps);
        let y = TOP + plot_h - plot_h * f64::from(i) / f64::from(steps);
        let _ = write!(
            svg,
            "<line class=\"{}\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            if i == 0 { "axis" } else { "grid" },
            w - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            html(&fmt(v))
        );
    }
    top
}

/// X labels under evenly spaced slots.
fn x_labels(svg: &mut String, w: f64, h: f64, labels: &[&str]) {
    let n = labels.len();
    let slot = (w - LEFT - RIGHT) / n.max(1) as f64;
    // About one label per 80 units of width, so that they never overlap.
    let room = (((w - LEFT - RIGHT) / 80.0) as usize).max(1);
    let every = n.div_ceil(room).max(1);
    for (i, text) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            h - 8.0,
            html(text)
        );
    }
}

/// Columns over time (or over bins): `(label, value, tooltip)`. The y axis reaches at least
/// `floor` (4 for counts, so that its ticks are whole numbers).
fn column_chart(
    points: &[(String, f64, String)],
    (w, h): (f64, f64),
    class: &str,
    floor: f64,
    fmt: fn(f64) -> String,
) -> String {
    let mut svg = format!("<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\">");
    let max = points.iter().map(|p| p.1).fold(floor, f64::max);
    let top = y_axis(&mut svg, w, h, max, fmt);
    let plot_h = h - TOP - BOTTOM;
    let slot = (w - LEFT - RIGHT) / points.len().max(1) as f64;
    let bar_w = (slot * 0.78).max(0.6);
    for (i, (_, value, tip)) in points.iter().enumerate() {
        if *value <= 0.0 {
            continue;
        }
        let bar_h = (plot_h * value / top).max(1.0);
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let _ = write!(
            svg,
            "<rect class=\"bar {class}\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{bar_w:.2}\" height=\"{bar_h:.2}\" rx=\"1.5\"><title>{}</title></rect>",
            TOP + plot_h - bar_h,
            html(tip)
        );
    }
    let labels: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    x_labels(&mut svg, w, h, &labels);
    svg.push_str("</svg>");
    svg
}

/// A rate over time (0..=1) as a line with dots.
fn line_chart(points: &[(String, f64, String)], w: f64, h: f64) -> String {
    let mut svg = format!("<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\">");
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(0.01);
    let top = y_axis(&mut svg, w, h, max, |v| format!("{}%", (v * 1000.0).round() / 10.0));
    let plot_h = h - TOP - BOTTOM;
    let slot = (w - LEFT - RIGHT) / points.len().max(1) as f64;
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| (LEFT + slot * (i as f64 + 0.5), TOP + plot_h - plot_h * p.1 / top))
        .collect();
    if xy.len() > 1 {
        let path: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let base = TOP + plot_h;
        let _ = write!(
            svg,
            "<path class=\"area\" d=\"M{:.1},{base:.1}L{}L{:.1},{base:.1}Z\"/><path class=\"line\" d=\"M{}\"/>",
            xy[0].0,
            path.join("L"),
            xy[xy.len() - 1].0,
            path.join("L")
        );
    }
    let radius = if points.len() > 120 { 1.5 } else { 3.0 };
    for ((x, y), (_, _, tip)) in xy.iter().zip(points) {
        let _ = write!(
            svg,
            "<circle class=\"dot\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\"><title>{}</title></circle>",
            html(tip)
        );
    }
    let labels: Vec<&str> = points.iter().map(|p| p.0.as_str()).collect();
    x_labels(&mut svg, w, h, &labels);
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of cost per group, the top ones and the rest summed.
fn cost_by(groups: &[GroupStats], priced: bool) -> String {
    if !priced {
        return empty("No priced calls.");
    }
    let mut rows: Vec<(String, f64, String)> =
        groups.iter().take(TOP_GROUPS).map(|g| (g.key.clone(), g.cost_usd, tooltip(g))).collect();
    if groups.len() > TOP_GROUPS {
        let rest = &groups[TOP_GROUPS..];
        let cost: f64 = rest.iter().map(|g| g.cost_usd).sum();
        let calls: u64 = rest.iter().map(|g| g.calls).sum();
        rows.push((
            format!("{} more", rest.len()),
            cost,
            format!(
                "{} more groups: {} · {} calls",
                rest.len(),
                format_cost(cost),
                format_count(calls)
            ),
        ));
    }
    let w = 560.0;
    let row_h = 24.0;
    let h = rows.len() as f64 * row_h + 8.0;
    let (label_w, value_w) = (170.0, 84.0);
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut svg = format!("<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\">");
    for (i, (name, cost, tip)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let bar_w = if *cost > 0.0 { ((w - label_w - value_w) * cost / max).max(1.0) } else { 0.0 };
        let short: String = if name.chars().count() > 26 {
            format!("{}…", name.chars().take(25).collect::<String>())
        } else {
            name.clone()
        };
        let _ = write!(
            svg,
            "<text class=\"name\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{}</title></text>",
            label_w - 8.0,
            y + 15.0,
            html(&short),
            html(name)
        );
        if bar_w > 0.0 {
            let _ = write!(
                svg,
                "<rect class=\"bar cost\" x=\"{label_w}\" y=\"{:.1}\" width=\"{bar_w:.2}\" height=\"{:.1}\" rx=\"2\"><title>{}</title></rect>",
                y + 3.0,
                row_h - 8.0,
                html(tip)
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w + bar_w + 6.0,
            y + 15.0,
            html(&format_cost(*cost))
        );
    }
    svg.push_str("</svg>");
    svg
}

fn tooltip(g: &GroupStats) -> String {
    let unpriced = if g.unpriced > 0 {
        format!(" (+{} unpriced)", format_count(g.unpriced))
    } else {
        String::new()
    };
    format!(
        "{}: {}{unpriced} · {} calls · {} errors · p50 {}",
        g.key,
        format_cost(g.cost_usd),
        format_count(g.calls),
        format_count(g.errors),
        format_ms(g.latency_ms.p50)
    )
}

fn latency_chart(bins: &[u64]) -> String {
    let name =
        |ms: f64| if ms < 1000.0 { format!("{ms:.0}ms") } else { format!("{}s", ms / 1000.0) };
    let points: Vec<(String, f64, String)> = bins
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let low = if i == 0 { 0.0 } else { LATENCY_EDGES[i - 1] };
            let (label, range) = match LATENCY_EDGES.get(i) {
                Some(&high) if i == 0 => {
                    (format!("<{}", name(high)), format!("under {}", name(high)))
                }
                Some(&high) => (name(low), format!("{}–{}", name(low), name(high))),
                None => (format!("≥{}", name(low)), format!("{} or more", name(low))),
            };
            (label, count as f64, format!("{range}: {} calls", format_count(count)))
        })
        .collect();
    column_chart(&points, (560.0, 240.0), "lat", 4.0, |v| format_count(v.round() as u64))
}

fn error_tables(page: &mut String, errors: Errors) -> Result<()> {
    writeln!(page, "<h2>Errors by kind and function</h2>")?;
    let groups = errors.groups();
    let failed = errors.failed;
    if groups.is_empty() {
        page.push_str(&empty("No failed calls."));
        page.push('\n');
        return Ok(());
    }
    page.push_str(
        "<table><thead><tr><th>kind</th><th>function</th><th class=\"num\">calls</th>\
         <th class=\"num\">share</th><th>last seen (UTC)</th></tr></thead><tbody>\n",
    );
    for (kind, function, count, last) in groups.iter().take(ERROR_GROUPS) {
        writeln!(
            page,
            "<tr><td><span class=\"kind\">{}</span></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.1}%</td><td>{}</td></tr>",
            html(kind),
            html(function),
            format_count(*count),
            *count as f64 / failed.max(1) as f64 * 100.0,
            time::short(*last)
        )?;
    }
    page.push_str("</tbody></table>\n");
    if groups.len() > ERROR_GROUPS {
        let rest = &groups[ERROR_GROUPS..];
        let calls: u64 = rest.iter().map(|g| g.2).sum();
        writeln!(
            page,
            "<p class=\"more\">and {} more kind and function pairs with {} failed calls.</p>",
            rest.len(),
            format_count(calls)
        )?;
    }

    let latest: Vec<Failed> = errors.latest();
    writeln!(page, "<h2>Latest failed calls</h2>")?;
    page.push_str(
        "<table><thead><tr><th>time (UTC)</th><th>kind</th><th class=\"num\">status</th><th>function</th>\
         <th>model</th><th>message</th><th>trace id</th></tr></thead><tbody>\n",
    );
    for f in &latest {
        writeln!(
            page,
            "<tr><td class=\"num\">{}</td><td><span class=\"kind\">{}</span></td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td><td class=\"msg\">{}</td><td class=\"id\">{}</td></tr>",
            time::short(f.millis),
            html(&f.kind),
            f.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            html(&f.function),
            html(&f.model),
            html(&crate::text::clip(&f.message, 300)),
            html(&f.trace_id)
        )?;
    }
    page.push_str("</tbody></table>\n");
    Ok(())
}

fn slow_table(page: &mut String, slowest: &[SlowCall]) -> Result<()> {
    writeln!(page, "<h2>Slowest calls</h2>")?;
    page.push_str(
        "<table><thead><tr><th class=\"num\">latency</th><th class=\"num\">ttft</th><th>function</th>\
         <th>model</th><th>time (UTC)</th><th>error</th><th>trace id</th></tr></thead><tbody>\n",
    );
    for c in slowest {
        writeln!(
            page,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td class=\"id\">{}</td></tr>",
            format_ms(Some(c.latency_ms)),
            format_ms(c.ttft_ms),
            html(&c.function),
            html(&c.model),
            time::short(c.millis),
            c.error
                .as_deref()
                .map(|k| format!("<span class=\"kind\">{}</span>", html(k)))
                .unwrap_or_default(),
            html(&c.trace_id)
        )?;
    }
    page.push_str("</tbody></table>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(1.7), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(0.031), 0.05);
        assert_eq!(nice_ceiling(500.0), 500.0);
        assert_eq!(axis_cost(3.75), "$3.75");
        assert_eq!(axis_cost(5.0), "$5");
        assert_eq!(axis_cost(0.0), "$0");
        assert_eq!(axis_cost(1250.0), "$1,250");
    }

    #[test]
    fn every_text_in_a_chart_is_escaped() {
        let svg = column_chart(
            &[("<b>".into(), 1.0, "<script>x</script>".into())],
            (300.0, 100.0),
            "cost",
            0.0,
            axis_cost,
        );
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }
}

//! Plain-text tables for summaries (also used by the command-line tool).

use std::fmt::{self, Write};

use super::{GroupStats, Summary};

pub(super) fn write_summary(f: &mut fmt::Formatter<'_>, s: &Summary) -> fmt::Result {
    let t = &s.total;
    writeln!(f, "llm-trace summary · session {}", s.session_id)?;
    writeln!(
        f,
        "{} calls · {} failed ({:.1}%) · {} prompt + {} completion tokens ({} cached, {} reasoning) · {}{}",
        format_count(t.calls),
        format_count(t.errors),
        t.error_rate() * 100.0,
        format_count(t.prompt_tokens),
        format_count(t.completion_tokens),
        format_count(t.cached_tokens),
        format_count(t.reasoning_tokens),
        format_cost(t.cost_usd),
        if t.unpriced > 0 {
            format!(" ({} unpriced)", format_count(t.unpriced))
        } else {
            String::new()
        },
    )?;
    let p = &t.latency_ms;
    write!(
        f,
        "latency p50 {} · p95 {} · p99 {} · mean {}",
        format_ms(p.p50),
        format_ms(p.p95),
        format_ms(p.p99),
        format_ms(p.mean)
    )?;
    if t.ttft_ms.p50.is_some() {
        write!(
            f,
            " · time to first token p50 {} · p95 {}",
            format_ms(t.ttft_ms.p50),
            format_ms(t.ttft_ms.p95)
        )?;
    }
    writeln!(f)?;
    for (title, groups) in
        [("function", &s.by_function), ("model", &s.by_model), ("tag", &s.by_tag)]
    {
        if !groups.is_empty() {
            writeln!(f)?;
            write_group_table(f, title, groups)?;
        }
    }
    Ok(())
}

/// Writes `groups` as an aligned table whose first column is headed `title`.
///
/// ```
/// use llm_trace_core::summary::{write_group_table, Aggregate, Observation};
///
/// let mut agg = Aggregate::default();
/// agg.add(&Observation { prompt_tokens: 1200, completion_tokens: 80, cost_usd: Some(0.0012), latency_ms: 812.0, ..Default::default() });
/// let mut out = String::new();
/// write_group_table(&mut out, "model", &[agg.stats("gpt-4o-mini")])?;
/// assert!(out.lines().nth(1).unwrap().starts_with("gpt-4o-mini"));
/// assert!(out.contains("1,200"));
/// # Ok::<(), std::fmt::Error>(())
/// ```
pub fn write_group_table(out: &mut impl Write, title: &str, groups: &[GroupStats]) -> fmt::Result {
    const HEADERS: [&str; 10] = [
        "calls",
        "errors",
        "prompt",
        "completion",
        "cached",
        "cost",
        "unpriced",
        "p50",
        "p95",
        "ttft p50",
    ];
    let rows: Vec<[String; 11]> = groups
        .iter()
        .map(|g| {
            let cost = if g.unpriced == g.calls { "-".to_owned() } else { format_cost(g.cost_usd) };
            [
                g.key.clone(),
                format_count(g.calls),
                format_count(g.errors),
                format_count(g.prompt_tokens),
                format_count(g.completion_tokens),
                format_count(g.cached_tokens),
                cost,
                format_count(g.unpriced),
                format_ms(g.latency_ms.p50),
                format_ms(g.latency_ms.p95),
                format_ms(g.ttft_ms.p50),
            ]
        })
        .collect();
    let mut widths = [0usize; 11];
    widths[0] = title.chars().count();
    for (i, h) in HEADERS.iter().enumerate() {
        widths[i + 1] = h.chars().count();
    }
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    write!(out, "{title:<w$}", w = widths[0])?;
    for (h, w) in HEADERS.iter().zip(&widths[1..]) {
        write!(out, "  {h:>w$}")?;
    }
    writeln!(out)?;
    for row in &rows {
        write!(out, "{:<w$}", row[0], w = widths[0])?;
        for (cell, w) in row[1..].iter().zip(&widths[1..]) {
            write!(out, "  {cell:>w$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `1234567` → `"1,234,567"`.
///
/// ```
/// assert_eq!(llm_trace_core::summary::format_count(1234567), "1,234,567");
/// ```
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars with about four significant digits: `$12.35`, `$0.01230`, `$0.0001344`.
///
/// ```
/// use llm_trace_core::summary::format_cost;
/// assert_eq!(format_cost(12.3456), "$12.35");
/// assert_eq!(format_cost(0.0001344), "$0.0001344");
/// assert_eq!(format_cost(0.00000046), "$0.00000046");
/// assert_eq!(format_cost(2.5), "$2.50");
/// assert_eq!(format_cost(0.0), "$0");
/// ```
pub fn format_cost(usd: f64) -> String {
    if usd == 0.0 || !usd.is_finite() {
        return "$0".to_owned();
    }
    let magnitude = usd.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(2, 10) as usize;
    let text = format!("{usd:.decimals$}");
    // Four significant digits at most, without trailing zeros (but keep cents).
    let trimmed = text.trim_end_matches('0');
    let keep = trimmed.len().max(text.find('.').map_or(text.len(), |dot| dot + 3));
    format!("${}", &text[..keep])
}

/// Milliseconds as `3.2 ms`, `812 ms`, `1.92 s` or `2.1 min`; `-` for none.
///
/// ```
/// use llm_trace_core::summary::format_ms;
/// assert_eq!(format_ms(Some(812.4)), "812 ms");
/// assert_eq!(format_ms(Some(1920.0)), "1.92 s");
/// assert_eq!(format_ms(None), "-");
/// ```
pub fn format_ms(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) if ms < 60_000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{:.1} min", ms / 60_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{Aggregate, Observation};

    #[test]
    fn columns_line_up() {
        let mut a = Aggregate::default();
        a.add(&Observation {
            prompt_tokens: 1_000_000,
            cost_usd: Some(2.5),
            latency_ms: 1500.0,
            ..Default::default()
        });
        let mut b = Aggregate::default();
        b.add(&Observation {
            cost_usd: None,
            latency_ms: 3.0,
            ttft_ms: Some(1.0),
            ..Default::default()
        });
        let mut out = String::new();
        write_group_table(
            &mut out,
            "function",
            &[a.stats("a_rather_long_function_name"), b.stats("b")],
        )
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()), "{out}");
        assert!(lines[1].contains("1,000,000") && lines[1].contains("$2.50 "), "{out}");
        assert!(lines[2].contains(" - "), "{out}");
        assert!(lines[0].contains("unpriced"), "{out}");
    }
}

//! `llm-trace cost` and `llm-trace prices`: the price table, as the library uses it.

use std::io::Write;

use llm_trace_core::Config;
use llm_trace_core::pricing::{Price, PriceTable, TokenCounts};
use llm_trace_core::summary::{format_cost, format_count};
use serde::Serialize;

use super::stdout;
use crate::args::{CostArgs, PriceArgs, PricesArgs, TextFormat};
use crate::failure::{Failure, Result};
use crate::text::{clean, fit};

/// The built-in table, extended with `--prices FILE` or else `LLM_TRACE_PRICES`.
fn price_table(args: &PriceArgs) -> Result<PriceTable> {
    let path = match &args.prices {
        Some(path) => Some(path.clone()),
        None => Config::from_env().map_err(|e| Failure::Usage(e.to_string()))?.prices,
    };
    match path {
        Some(path) => {
            PriceTable::builtin_extended_with(&path).map_err(|e| Failure::Usage(e.to_string()))
        }
        None => Ok(PriceTable::builtin()),
    }
}

/// `2.5` → `$2.50`, `0.075` → `$0.075`.
fn per_million(usd: f64) -> String {
    let two = format!("{usd:.2}");
    if two.parse::<f64>().ok() == Some(usd) { format!("${two}") } else { format!("${usd}") }
}

fn describe_price(price: &Price) -> String {
    let mut parts = vec![format!("input {}", per_million(price.input))];
    if let Some(cached) = price.cached_input {
        parts.push(format!("cached input {}", per_million(cached)));
    }
    if let Some(write) = price.cache_write {
        parts.push(format!("cache write {}", per_million(write)));
    }
    parts.push(format!("output {}", per_million(price.output)));
    format!("{} per 1M tokens", parts.join(" · "))
}

#[derive(Serialize)]
struct CostOut<'a> {
    model: &'a str,
    matched: Option<&'a str>,
    cost_usd: Option<f64>,
}

pub(crate) fn run_cost(args: CostArgs) -> Result<()> {
    let table = price_table(&args.prices)?;
    if args.cached_tokens > args.prompt_tokens {
        return Err(Failure::Usage(format!(
            "--cached-tokens ({}) cannot exceed --prompt-tokens ({}): cached tokens are part of the prompt",
            args.cached_tokens, args.prompt_tokens
        )));
    }
    let tokens = TokenCounts::new(args.prompt_tokens, args.completion_tokens)
        .with_cached(args.cached_tokens);
    let found = table.resolve(&args.model);
    let cost = found.map(|m| m.price.cost(&tokens));
    let mut out = stdout();
    match args.format {
        TextFormat::Json => {
            let doc = CostOut { model: &args.model, matched: found.map(|m| m.id), cost_usd: cost };
            serde_json::to_writer(&mut out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TextFormat::Text => {
            if let (Some(m), Some(cost)) = (found, cost) {
                let provider = m.provider.map(|p| format!(" ({p})")).unwrap_or_default();
                writeln!(out, "{:<9}{}", "model", clean(&args.model))?;
                writeln!(out, "{:<9}{}{provider}", "matched", m.id)?;
                writeln!(out, "{:<9}{}", "prices", describe_price(m.price))?;
                let cached = if args.cached_tokens > 0 {
                    format!(" ({} cached)", format_count(args.cached_tokens))
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{:<9}{} prompt{cached} + {} completion",
                    "tokens",
                    format_count(args.prompt_tokens),
                    format_count(args.completion_tokens)
                )?;
                writeln!(out, "{:<9}{} ({cost} USD)", "cost", format_cost(cost))?;
            }
        }
    }
    out.flush()?;
    if found.is_none() {
        return Err(Failure::NoMatch(format!(
            "no price for `{}` (prices checked {}; add it with --prices FILE or LLM_TRACE_PRICES)",
            clean(&args.model),
            table.checked().unwrap_or("-")
        )));
    }
    Ok(())
}

#[derive(Serialize)]
struct PriceOut<'a> {
    model: &'a str,
    provider: Option<&'a str>,
    input: f64,
    cached_input: Option<f64>,
    cache_write: Option<f64>,
    output: f64,
}

#[derive(Serialize)]
struct PricesOut<'a> {
    checked: Option<&'a str>,
    unit: &'static str,
    models: Vec<PriceOut<'a>>,
}

pub(crate) fn run_prices(args: PricesArgs) -> Result<()> {
    let table = price_table(&args.prices)?;
    let pattern = args.pattern.as_deref().map(str::to_lowercase);
    let rows: Vec<PriceOut<'_>> = table
        .iter()
        .filter(|m| {
            pattern.as_deref().is_none_or(|p| {
                m.id.to_lowercase().contains(p)
                    || m.provider.is_some_and(|prov| prov.to_lowercase().contains(p))
            })
        })
        .map(|m| PriceOut {
            model: m.id,
            provider: m.provider,
            input: m.price.input,
            cached_input: m.price.cached_input,
            cache_write: m.price.cache_write,
            output: m.price.output,
        })
        .collect();
    let matched_any = !rows.is_empty();
    let mut out = stdout();
    match args.format {
        TextFormat::Json => {
            let doc =
                PricesOut { checked: table.checked(), unit: "USD per 1M tokens", models: rows };
            serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TextFormat::Text if !rows.is_empty() => {
            let model_w =
                rows.iter().map(|r| r.model.chars().count()).max().unwrap_or(0).clamp(5, 48);
            let provider_w = rows
                .iter()
                .map(|r| r.provider.map_or(1, |p| p.chars().count()))
                .max()
                .unwrap_or(0)
                .max(8);
            let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), per_million);
            writeln!(
                out,
                "{}  {}  {:>9}  {:>12}  {:>11}  {:>9}",
                fit("model", model_w),
                fit("provider", provider_w),
                "input",
                "cached input",
                "cache write",
                "output"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{}  {}  {:>9}  {:>12}  {:>11}  {:>9}",
                    fit(&clean(r.model), model_w),
                    fit(&clean(r.provider.unwrap_or("-")), provider_w),
                    per_million(r.input),
                    opt(r.cached_input),
                    opt(r.cache_write),
                    per_million(r.output)
                )?;
            }
            writeln!(
                out,
                "\n{} of {} models · USD per 1M tokens · prices checked {}",
                rows.len(),
                table.len(),
                table.checked().unwrap_or("-")
            )?;
        }
        TextFormat::Text => {}
    }
    out.flush()?;
    if !matched_any {
        let pattern = clean(args.pattern.as_deref().unwrap_or("")).into_owned();
        return Err(Failure::NoMatch(format!("no model matches `{pattern}`")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_per_million_read_naturally() {
        assert_eq!(per_million(2.5), "$2.50");
        assert_eq!(per_million(0.075), "$0.075");
        assert_eq!(per_million(15.0), "$15.00");
        assert_eq!(per_million(0.0), "$0.00");
    }
}

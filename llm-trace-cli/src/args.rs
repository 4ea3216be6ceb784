//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use llm_trace_core::TraceId;

use crate::filter::Filter;
use crate::time;

const ABOUT: &str =
    "Answers questions of llm-trace logs: what LLM calls cost, which fail, which are slow.";

const LONG_ABOUT: &str = "\
Answers questions of llm-trace logs: what LLM calls cost, which fail, which are slow.

Reads the JSON-lines log written by the llm-trace library: by default $LLM_TRACE_DIR/traces.jsonl
(LLM_TRACE_DIR defaults to ./llm-traces) and its rotated files traces.jsonl.1 … .N, oldest first.
Pass files or folders to read others, `-` for stdin. Malformed and incomplete lines are reported
on stderr with their line number and skipped.

Exit status: 0 ok, 1 nothing matched (or a failure), 2 usage error.";

const MAIN_EXAMPLES: &str = "\
Examples:
  llm-trace summary                      totals by function for ./llm-traces
  llm-trace summary --by model --since 24h
  llm-trace errors --since 7d
  llm-trace slow --top 20 --model gpt-4o
  llm-trace tail -f
  llm-trace report --html report.html
  llm-trace cost gpt-4o-mini --prompt-tokens 1200 --completion-tokens 300";

/// The `llm-trace` command.
#[derive(Debug, Parser)]
#[command(
    name = "llm-trace",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = MAIN_EXAMPLES,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Calls, errors, tokens, cost and latency percentiles, in total and by group.
    #[command(after_help = "\
Examples:
  llm-trace summary
  llm-trace summary --by model --since 24h
  llm-trace summary --by tag --tag support --format json
  llm-trace summary --by day --format csv > daily.csv
  cat traces.jsonl | llm-trace summary -

A call with several tags counts once in each tag's group (calls without a tag are grouped under
\"(untagged)\"); day and hour are UTC. JSON: {\"total\": G, \"groups\": [G, …]}.")]
    Summary(SummaryArgs),

    /// Failed calls grouped by error kind and function, with the latest examples.
    #[command(after_help = "\
Examples:
  llm-trace errors
  llm-trace errors --since 24h --function classify_ticket
  llm-trace errors --examples 20 --format json

Exits with 1 when no failed call matched.")]
    Errors(ErrorsArgs),

    /// The slowest calls, with their trace ids.
    #[command(after_help = "\
Examples:
  llm-trace slow
  llm-trace slow --top 50 --since 1h
  llm-trace slow --model gpt-4o --format json")]
    Slow(SlowArgs),

    /// One trace, every field, readably (or as JSON).
    #[command(after_help = "\
Examples:
  llm-trace show 01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f
  llm-trace show 01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f --format json

TRACE_ID must be a full UUID as written in the log. Exits with 1 when it is not found.")]
    Show(ShowArgs),

    /// The last calls, one line each; -f follows the log as it grows.
    #[command(after_help = "\
Examples:
  llm-trace tail
  llm-trace tail -n 50 --errors
  llm-trace tail -f --function classify_ticket

-f keeps reading when the log grows, and reopens it when it is rotated or truncated.")]
    Tail(TailArgs),

    /// The cost of one call to MODEL, and the price entry that matched.
    #[command(after_help = "\
Examples:
  llm-trace cost gpt-4o-mini --prompt-tokens 1200 --completion-tokens 300
  llm-trace cost claude-sonnet-4-5-20250929 --prompt-tokens 10000 --cached-tokens 8000 --completion-tokens 500
  llm-trace cost my-model --prompt-tokens 1 --completion-tokens 1 --prices prices.json --format json

JSON: {\"model\": …, \"matched\": …, \"cost_usd\": …}; matched and cost_usd are null when the model
has no price, and the exit status is then 1 (in both formats).")]
    Cost(CostArgs),

    /// The price table (USD per 1M tokens), filtered by a substring.
    #[command(after_help = "\
Examples:
  llm-trace prices
  llm-trace prices claude
  llm-trace prices --prices my-prices.json mine

Exits with 1 when no model matches PATTERN.")]
    Prices(PricesArgs),

    /// A self-contained HTML report: cost over time, by function and model, latency, errors.
    #[command(after_help = "\
Examples:
  llm-trace report --html report.html
  llm-trace report --html week.html --since 7d
  llm-trace report --html support.html --tag support

The page has no external resources (inline CSS and SVG), so it can be mailed or archived.")]
    Report(ReportArgs),

    /// Writes a realistic synthetic log (for benchmarks and tests).
    #[command(hide = true)]
    Gen(GenArgs),
}

/// Log files to read.
#[derive(Debug, Args)]
pub(crate) struct InputArgs {
    /// Log files or folders (a folder: its traces.jsonl and rotated files); `-` for stdin
    /// [default: $LLM_TRACE_DIR, else ./llm-traces]
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
}

/// Which calls to look at.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Filters")]
pub(crate) struct FilterArgs {
    /// Only calls at or after TIME: RFC 3339, a UTC date (2026-11-26), or ago (30m, 24h, 7d)
    #[arg(long, value_name = "TIME", value_parser = time::parse_bound)]
    pub(crate) since: Option<i64>,
    /// Only calls before TIME (same forms as --since)
    #[arg(long, value_name = "TIME", value_parser = time::parse_bound)]
    pub(crate) until: Option<i64>,
    /// Only calls made in this function
    #[arg(long, value_name = "NAME")]
    pub(crate) function: Option<String>,
    /// Only calls to this model (requested or answering)
    #[arg(long, value_name = "MODEL")]
    pub(crate) model: Option<String>,
    /// Only calls with this tag (repeat: all must be present)
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
    /// Only calls of this session
    #[arg(long, value_name = "ID")]
    pub(crate) session: Option<String>,
    /// Only failed calls
    #[arg(long)]
    pub(crate) errors: bool,
}

impl FilterArgs {
    pub(crate) fn filter(&self) -> Filter {
        Filter {
            since: self.since,
            until: self.until,
            function: self.function.clone(),
            model: self.model.clone(),
            tags: self.tags.clone(),
            session: self.session.clone(),
            errors_only: self.errors,
        }
    }
}

/// How `summary` groups calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum By {
    Function,
    Model,
    Tag,
    Session,
    /// UTC day: 2026-11-26
    Day,
    /// UTC hour: 2026-11-26T19
    Hour,
}

impl By {
    pub(crate) fn name(self) -> &'static str {
        match self {
            By::Function => "function",
            By::Model => "model",
            By::Tag => "tag",
            By::Session => "session",
            By::Day => "day",
            By::Hour => "hour",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum TableFormat {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum TextFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct SummaryArgs {
    /// Group calls by
    #[arg(long, value_enum, default_value_t = By::Function)]
    pub(crate) by: By,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TableFormat,
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ErrorsArgs {
    /// How many of the latest failures to show
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub(crate) examples: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextFormat,
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SlowArgs {
    /// How many calls to show
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) top: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextFormat,
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The trace id (a UUID, as in the log)
    #[arg(value_name = "TRACE_ID", value_parser = parse_trace_id)]
    pub(crate) trace_id: TraceId,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextFormat,
    #[command(flatten)]
    pub(crate) input: InputArgs,
}

fn parse_trace_id(text: &str) -> Result<TraceId, String> {
    text.parse::<TraceId>().map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// How many of the last calls to print
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    pub(crate) lines: usize,
    /// Keep printing calls as they are logged (stop with Ctrl-C)
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// How often -f looks for new lines, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 200, hide = true)]
    pub(crate) poll_ms: u64,
    /// The log file or folder; `-` for stdin [default: $LLM_TRACE_DIR, else ./llm-traces]
    #[arg(value_name = "PATH")]
    pub(crate) path: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    /// A price file (llm-trace or LiteLLM JSON) extending the built-in table [env: LLM_TRACE_PRICES]
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CostArgs {
    /// The model id, as a provider reports it (prefixes and date suffixes are resolved)
    #[arg(value_name = "MODEL")]
    pub(crate) model: String,
    /// Prompt tokens, cached ones included
    #[arg(long, value_name = "N")]
    pub(crate) prompt_tokens: u64,
    /// Completion tokens, reasoning ones included
    #[arg(long, value_name = "N")]
    pub(crate) completion_tokens: u64,
    /// Prompt tokens read from the provider's cache (part of --prompt-tokens)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) cached_tokens: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextFormat,
    #[command(flatten)]
    pub(crate) prices: PriceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PricesArgs {
    /// Only models whose id or provider contains PATTERN (case-insensitive)
    #[arg(value_name = "PATTERN")]
    pub(crate) pattern: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TextFormat,
    #[command(flatten)]
    pub(crate) prices: PriceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Where to write the HTML page
    #[arg(long, value_name = "FILE")]
    pub(crate) html: PathBuf,
    /// The page's title
    #[arg(long, value_name = "TEXT", default_value = "LLM calls")]
    pub(crate) title: String,
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Number of lines
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) lines: u64,
    /// Output file (stdout when absent)
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Seed of the pseudo-random generator
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Days the calls are spread over, ending now
    #[arg(long, default_value_t = 7)]
    pub(crate) days: u64,
    /// Time of the last call (RFC 3339) instead of now
    #[arg(long, value_name = "TIME", value_parser = time::parse_bound)]
    pub(crate) end: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_has_help_with_examples() {
        let cli = Cli::command();
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            assert!(sub.get_about().is_some(), "{}", sub.get_name());
            let after = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(after.contains("Examples:"), "{}", sub.get_name());
        }
    }
}

//! `llm-trace gen` (hidden): a realistic synthetic log, for benchmarks and tests.
//!
//! Every line is a real [`LlmTrace`] serialized as the library writes it (about 800 bytes):
//! a dozen functions with their tags, models of four providers plus an unpriced local one,
//! costs from the built-in price table, streamed calls with a time to first token, about 3%
//! failures of several kinds, previews with the odd quote, newline and non-ASCII character,
//! timestamps in order over the last `--days` days. The same seed gives the same log (apart
//! from the random bits of the trace ids).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llm_trace_core::pricing::{PriceTable, TokenCounts};
use llm_trace_core::{
    ErrorKind, FinishReason, LlmTrace, Metadata, Timestamp, TraceError, TraceId, UsageSource,
};

use crate::args::GenArgs;
use crate::failure::{Failure, Result};
use crate::time::{DAY_MS, now_millis};

/// splitmix64: small, fast, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A log-normal factor around 1.
    fn spread(&mut self, sigma: f64) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (normal * sigma).exp()
    }

    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut pick = self.below(total as usize) as u32;
        for (item, weight) in items {
            if pick < *weight {
                return item;
            }
            pick -= weight;
        }
        &items[0].0
    }
}

struct Function {
    name: &'static str,
    module: &'static str,
    tags: &'static [&'static str],
    models: &'static [(&'static str, u32)],
    tools: &'static [&'static str],
    embeddings: bool,
}

const CHAT_MODELS: &[(&str, u32)] = &[
    ("gpt-4o-mini", 40),
    ("gpt-4o", 12),
    ("gpt-5-mini", 10),
    ("claude-3-5-haiku-20241022", 10),
    ("claude-sonnet-4-5-20250929", 8),
    ("gemini-2.5-flash", 8),
    ("mistral-small-latest", 6),
    ("llama-3.1-8b-local", 6),
];

const FUNCTIONS: &[(Function, u32)] = &[
    (f("classify_ticket", "support::triage", &["support", "classification"], CHAT_MODELS, &[]), 20),
    (
        f(
            "summarize_thread",
            "support::summaries",
            &["support", "summarization"],
            CHAT_MODELS,
            &[],
        ),
        10,
    ),
    (f("draft_reply", "support::replies", &["support"], CHAT_MODELS, &[]), 10),
    (
        f(
            "extract_invoice_fields",
            "billing::extract",
            &["billing", "extraction"],
            CHAT_MODELS,
            &[],
        ),
        8,
    ),
    (f("answer_question", "rag::answer", &["rag"], CHAT_MODELS, &["search_docs"]), 12),
    (f("rerank_passages", "rag::rerank", &["rag"], CHAT_MODELS, &[]), 6),
    (
        Function {
            name: "embed_documents",
            module: "rag::index",
            tags: &["rag", "embeddings"],
            models: &[("text-embedding-3-small", 1)],
            tools: &[],
            embeddings: true,
        },
        8,
    ),
    (
        f(
            "plan_next_step",
            "agent::planner",
            &["agent"],
            CHAT_MODELS,
            &["search_docs", "lookup_order", "refund"],
        ),
        7,
    ),
    (f("call_tool", "agent::tools", &["agent", "tools"], CHAT_MODELS, &["lookup_order"]), 5),
    (f("translate_text", "i18n::translate", &[], CHAT_MODELS, &[]), 6),
    (f("grade_answer", "eval::grader", &["eval", "batch"], CHAT_MODELS, &[]), 5),
    (f("generate_title", "content::titles", &[], CHAT_MODELS, &[]), 3),
];

const fn f(
    name: &'static str,
    module: &'static str,
    tags: &'static [&'static str],
    models: &'static [(&'static str, u32)],
    tools: &'static [&'static str],
) -> Function {
    Function { name, module, tags, models, tools, embeddings: false }
}

const WORDS: &[&str] = &[
    "the",
    "invoice",
    "customer",
    "order",
    "refund",
    "was",
    "charged",
    "twice",
    "please",
    "check",
    "account",
    "shipping",
    "delayed",
    "support",
    "ticket",
    "priority",
    "urgent",
    "answer",
    "policy",
    "within",
    "days",
    "summary",
    "thread",
    "agent",
    "replied",
    "update",
    "status",
    "missing",
    "item",
    "warranty",
    "return",
    "label",
    "café",
    "naïve",
    "日本語",
    "über",
    "address",
    "billing",
    "plan",
];

fn sentence(rng: &mut Rng, chars: usize) -> String {
    let mut out = String::with_capacity(chars + 16);
    while out.len() < chars {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len())]);
        if rng.chance(0.01) {
            out.push_str(" \"quoted\"");
        }
        if rng.chance(0.005) {
            out.push('\n');
        }
    }
    out
}

fn provider_of(model: &str) -> &'static str {
    match model {
        m if m.starts_with("gpt") || m.starts_with("text-embedding") => "openai",
        m if m.starts_with("claude") => "anthropic",
        m if m.starts_with("gemini") => "google",
        m if m.starts_with("mistral") => "mistral",
        _ => "local",
    }
}

fn base_latency_ms(model: &str) -> f64 {
    match model {
        m if m.contains("embedding") => 120.0,
        m if m.contains("local") => 250.0,
        m if m.contains("mini")
            || m.contains("haiku")
            || m.contains("flash")
            || m.contains("small") =>
        {
            450.0
        }
        _ => 1100.0,
    }
}

pub(crate) fn run(args: GenArgs) -> Result<()> {
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            File::create(path)
                .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    write(&mut out, &args)?;
    out.flush()?;
    Ok(())
}

/// Writes `args.lines` records to `out`.
pub(crate) fn write(out: &mut impl Write, args: &GenArgs) -> Result<()> {
    let prices = PriceTable::builtin_ref();
    let mut rng = Rng(args.seed);
    let end = args.end.unwrap_or_else(now_millis);
    let span = (args.days.max(1) as i64) * DAY_MS;
    let start = end - span;
    let sessions: Vec<Arc<str>> = (0..300)
        .map(|i| Arc::from(TraceId::at(ms_to_time(start + i * span / 300)).to_string()))
        .collect();
    let mut trace = LlmTrace::example();
    let lines = args.lines.max(1);
    for i in 0..args.lines {
        let millis =
            start + (i as i128 * span as i128 / lines as i128) as i64 + rng.below(1000) as i64;
        let func = rng.weighted(FUNCTIONS);
        let model = *rng.weighted(func.models);
        trace.trace_id = TraceId::at(ms_to_time(millis));
        trace.timestamp = Timestamp::from_unix_millis(millis);
        let session =
            (i as usize * sessions.len() / lines as usize + rng.below(3)).min(sessions.len() - 1);
        trace.session_id = sessions[session].clone();
        trace.function_name = Cow::Borrowed(func.name);
        trace.module_path = Cow::Borrowed(func.module);
        trace.call_path = if rng.chance(0.3) {
            Arc::from([Cow::Borrowed("handle_request"), Cow::Borrowed(func.name)])
        } else {
            Arc::from([Cow::Borrowed(func.name)])
        };
        trace.tags = func.tags.iter().map(|t| Cow::Borrowed(*t)).collect();
        let mut meta = Metadata::default();
        if rng.chance(0.5) {
            meta.insert("customer", format!("acme-{}", rng.below(500)));
        }
        if rng.chance(0.1) {
            meta.insert("attempt", 2);
        }
        trace.metadata = meta;
        trace.provider = Cow::Borrowed(provider_of(model));
        trace.operation = Cow::Borrowed(if func.embeddings { "embeddings" } else { "chat" });
        trace.model = Arc::from(model);
        trace.response_model = match model {
            "gpt-4o-mini" => Some(Arc::from("gpt-4o-mini-2024-07-18")),
            "gpt-4o" => Some(Arc::from("gpt-4o-2024-08-06")),
            _ => Some(trace.model.clone()),
        };
        trace.temperature = (!func.embeddings).then(|| [0.0, 0.2, 0.7][rng.below(3)]);
        trace.max_tokens = (!func.embeddings && rng.chance(0.5)).then_some(1024);
        trace.stream = !func.embeddings && rng.chance(0.35);
        trace.tools = func.tools.iter().map(|t| t.to_string()).collect();

        let prompt = ((600.0 * rng.spread(0.8)) as u64).clamp(8, 120_000);
        let completion =
            if func.embeddings { 0 } else { ((180.0 * rng.spread(0.7)) as u64).clamp(1, 8_000) };
        let cached = (rng.chance(0.3) && prompt > 1024).then(|| (prompt * 3 / 4) / 128 * 128);
        let reasoning = model.starts_with("gpt-5").then_some(completion / 2);
        let mut latency = base_latency_ms(model) * rng.spread(0.5) + completion as f64 * 8.0;
        let error = if rng.chance(0.03) {
            let error = match rng.below(20) {
                0..=9 => TraceError::new(ErrorKind::RateLimit, format!("Rate limit reached for {model} in organization org-{}: tokens per min (TPM): Limit 200000, Used 199000. Please try again in 1.2s.", rng.below(90))).with_status(429),
                10..=13 => TraceError::new(ErrorKind::Server, "The server had an error while processing your request. Sorry about that!").with_status([500, 502, 503][rng.below(3)]),
                14..=16 => {
                    latency = 30_000.0 + rng.unit() * 100.0;
                    TraceError::new(ErrorKind::Timeout, "request timed out after 30s")
                }
                17..=18 => TraceError::new(ErrorKind::InvalidRequest, "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens.").with_status(400),
                _ => TraceError::new(ErrorKind::ContentFilter, "The response was filtered due to the prompt triggering the content management policy.").with_status(400),
            };
            Some(error)
        } else {
            None
        };
        let failed = error.is_some();
        trace.finish_reason = match (&error, rng.below(100)) {
            (Some(_), _) => FinishReason::Error,
            (None, 0..=2) => FinishReason::Length,
            (None, 3..=9) if !func.tools.is_empty() => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        };
        trace.prompt_tokens = if failed { 0 } else { prompt };
        trace.completion_tokens = if failed { 0 } else { completion };
        trace.total_tokens = trace.prompt_tokens + trace.completion_tokens;
        trace.cached_tokens = if failed { None } else { cached };
        trace.reasoning_tokens = if failed { None } else { reasoning };
        trace.usage_source = if failed { UsageSource::None } else { UsageSource::Provider };
        let tokens = TokenCounts::new(trace.prompt_tokens, trace.completion_tokens)
            .with_cached(trace.cached_tokens.unwrap_or(0));
        let billed = !failed || error.as_ref().is_some_and(|e| e.status.is_some());
        trace.cost_usd = if billed {
            trace
                .response_model
                .as_deref()
                .and_then(|m| prices.cost(m, &tokens))
                .or_else(|| prices.cost(model, &tokens))
        } else {
            None
        };
        trace.latency_ms = (latency * 10.0).round() / 10.0;
        trace.ttft_ms = trace.stream.then(|| ((150.0 * rng.spread(0.5)) * 10.0).round() / 10.0);
        trace.error = error;
        let (input_chars, output_chars) = (20 + rng.below(90), 10 + rng.below(60));
        trace.input_preview = sentence(&mut rng, input_chars);
        trace.output_preview =
            if failed { String::new() } else { sentence(&mut rng, output_chars) };
        trace.payload = None;
        serde_json::to_writer(&mut *out, &trace).map_err(|e| Failure::Runtime(e.to_string()))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn ms_to_time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis.max(0) as u64)
}

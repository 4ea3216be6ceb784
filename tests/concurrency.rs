//! 10,000 concurrent traced calls across 16 tokio tasks on 4 worker threads, through one
//! `TracedClient` against one mock server, into a real JSON-lines log: exactly 10,000 whole
//! records, each attributed to the annotated function that made it, and a session summary that
//! equals the aggregates computed from the log.

#![cfg(feature = "openai")]

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use llm_trace::openai::TracedClient;
use llm_trace::reader::LogReader;
use llm_trace::{Config, LlmTrace, Payloads, Tracer, traced_llm};
use llm_trace_mock::{MockServer, Script};

const TASKS: usize = 16;
const CALLS_PER_TASK: usize = 625;
const CALLS: usize = TASKS * CALLS_PER_TASK;
/// Requests the mock server refuses with a 400 (not retried): exactly this many calls fail.
const REFUSED: usize = 100;

fn request(task: usize, i: usize) -> CreateChatCompletionRequest {
    // Prompts of different lengths, so that token counts and costs differ between calls.
    let text = format!("task {task} call {i} {}", "word ".repeat(i % 7));
    CreateChatCompletionRequestArgs::default()
        .model(if i % 3 == 0 { "gpt-4o" } else { "gpt-4o-mini" })
        .messages([ChatCompletionRequestUserMessage::from(text).into()])
        .build()
        .unwrap()
}

#[traced_llm(tags = ["concurrency", "even"])]
async fn ask_even(client: &TracedClient, task: usize, i: usize) -> Result<String, String> {
    let response = client.chat().create(request(task, i)).await.map_err(|e| e.to_string())?;
    Ok(response.choices[0].message.content.clone().unwrap_or_default())
}

#[traced_llm(tags = ["concurrency", "odd"])]
async fn ask_odd(client: &TracedClient, task: usize, i: usize) -> Result<String, String> {
    let response = client.chat().create(request(task, i)).await.map_err(|e| e.to_string())?;
    Ok(response.choices[0].message.content.clone().unwrap_or_default())
}

/// What the summary should say about a group, computed from log records.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    calls: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    unpriced: u64,
    cost_usd: f64,
}

impl Totals {
    fn add(&mut self, t: &LlmTrace) {
        self.calls += 1;
        self.errors += u64::from(t.error.is_some());
        self.prompt_tokens += t.prompt_tokens;
        self.completion_tokens += t.completion_tokens;
        self.cached_tokens += t.cached_tokens.unwrap_or(0);
        match t.cost_usd {
            Some(cost) => self.cost_usd += cost,
            None => self.unpriced += 1,
        }
    }

    fn assert_matches(&self, stats: &llm_trace::summary::GroupStats) {
        let key = &stats.key;
        assert_eq!(stats.calls, self.calls, "{key}: calls");
        assert_eq!(stats.errors, self.errors, "{key}: errors");
        assert_eq!(stats.prompt_tokens, self.prompt_tokens, "{key}: prompt tokens");
        assert_eq!(stats.completion_tokens, self.completion_tokens, "{key}: completion tokens");
        assert_eq!(stats.cached_tokens, self.cached_tokens, "{key}: cached tokens");
        assert_eq!(stats.unpriced, self.unpriced, "{key}: unpriced calls");
        assert!(
            (stats.cost_usd - self.cost_usd).abs() < 1e-9,
            "{key}: cost {} in the summary, {} in the log",
            stats.cost_usd,
            self.cost_usd
        );
    }
}

#[test]
fn ten_thousand_concurrent_traced_calls_are_ten_thousand_records_and_the_summary_equals_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.dir = dir.path().join("logs");
    config.payloads = Payloads::Off;
    let tracer = Tracer::new(config.clone()).unwrap();
    let server = MockServer::start().unwrap();
    for _ in 0..REFUSED {
        server.push(Script::bad_request("refused on purpose"));
    }
    let client = TracedClient::new(Client::with_config(
        OpenAIConfig::new().with_api_base(server.base_url()).with_api_key("sk-test-concurrency"),
    ))
    .with_tracer(tracer.clone());

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let started = Instant::now();
    let outcomes: Vec<(usize, usize)> = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let client = client.clone();
                tokio::spawn(async move {
                    let (mut ok, mut failed) = (0, 0);
                    for i in 0..CALLS_PER_TASK {
                        let result = if i % 2 == 0 {
                            ask_even(&client, task, i).await
                        } else {
                            ask_odd(&client, task, i).await
                        };
                        match result {
                            Ok(text) => {
                                assert!(text.contains("mock reply"), "{text}");
                                ok += 1;
                            }
                            Err(e) => {
                                assert!(e.contains("refused on purpose"), "{e}");
                                failed += 1;
                            }
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    });
    let elapsed = started.elapsed();
    eprintln!("{CALLS} calls in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(300), "the calls must not hang: {elapsed:?}");
    let ok: usize = outcomes.iter().map(|o| o.0).sum();
    let failed: usize = outcomes.iter().map(|o| o.1).sum();
    assert_eq!((ok, failed), (CALLS - REFUSED, REFUSED));
    assert_eq!(server.requests().len(), CALLS, "one request per call: nothing retried");
    tracer.flush().unwrap();

    // The log: whole lines only, one per call.
    let text = std::fs::read(config.log_path()).unwrap();
    assert!(text.ends_with(b"\n"), "the log ends with a complete line");
    assert_eq!(text.iter().filter(|b| **b == b'\n').count(), CALLS);
    let file = std::fs::File::open(config.log_path()).unwrap();
    let log: Vec<LlmTrace> = LogReader::new(BufReader::new(file))
        .map(|line| line.expect("no torn, interleaved or malformed line"))
        .collect();
    assert_eq!(log.len(), CALLS);
    let ids: HashSet<_> = log.iter().map(|t| t.trace_id).collect();
    assert_eq!(ids.len(), CALLS, "distinct trace ids");
    let stats = tracer.stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped, stats.failed),
        (CALLS as u64, CALLS as u64, 0, 0),
        "{stats:?}"
    );

    // Every record is attributed to the annotated fn that made the call.
    for t in &log {
        let (name, tag) = match t.function_name.as_ref() {
            "ask_even" => ("ask_even", "even"),
            "ask_odd" => ("ask_odd", "odd"),
            other => panic!("call attributed to {other}"),
        };
        assert_eq!(t.call_path.as_ref(), [name]);
        assert_eq!(t.tags.as_ref(), ["concurrency", tag]);
        assert_eq!(t.session_id, *tracer.session_id());
    }

    // The summary equals the log: in total, by function, by model and by tag.
    let mut total = Totals::default();
    let mut by_function: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_tag: BTreeMap<String, Totals> = BTreeMap::new();
    for t in &log {
        total.add(t);
        by_function.entry(t.function_name.to_string()).or_default().add(t);
        by_model.entry(t.model.to_string()).or_default().add(t);
        for tag in t.tags.iter() {
            by_tag.entry(tag.to_string()).or_default().add(t);
        }
    }
    assert_eq!(total.errors, REFUSED as u64);
    assert_eq!(total.unpriced, 0, "every model here has a price");
    let summary = tracer.summary();
    total.assert_matches(&summary.total);
    for (expected, groups) in [
        (&by_function, &summary.by_function),
        (&by_model, &summary.by_model),
        (&by_tag, &summary.by_tag),
    ] {
        let keys: Vec<&String> = groups.iter().map(|g| &g.key).collect();
        assert_eq!(keys.len(), expected.len(), "{keys:?}");
        for group in groups {
            expected[&group.key].assert_matches(group);
        }
    }
    let even = TASKS * CALLS_PER_TASK.div_ceil(2);
    assert_eq!(by_function["ask_even"].calls, even as u64);
    assert_eq!(by_function["ask_odd"].calls, (CALLS - even) as u64);
    assert_eq!(by_tag["concurrency"].calls, CALLS as u64);
}

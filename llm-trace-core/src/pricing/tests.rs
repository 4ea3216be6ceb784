//! Tests of the pricing module.

use std::path::PathBuf;

use super::litellm::per_token_to_per_million;
use super::parse::is_date;
use super::resolve::{candidates, strip_version_suffix};
use super::{Price, PriceError, PriceTable, TokenCounts};

const LITELLM_EXCERPT: &str = include_str!("testdata/litellm_excerpt.json");

fn table(models: &[(&str, Price)]) -> PriceTable {
    let mut table = PriceTable::empty();
    for (model, price) in models {
        table.insert(*model, *price);
    }
    table
}

/// The key `model` resolves to in `table`, if any.
fn key<'a>(table: &'a PriceTable, model: &str) -> Option<&'a str> {
    table.resolve(model).map(|found| found.model)
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "expected {expected}, got {actual}"
    );
}

/// A file in the system temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("llm-trace-pricing-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------- suffixes

#[test]
fn strip_version_suffix_forms() {
    let cases = [
        ("gpt-4o-2024-08-06", Some("gpt-4o")),
        ("claude-3-5-sonnet-20241022", Some("claude-3-5-sonnet")),
        ("gpt-4-0613", Some("gpt-4")),
        ("gpt-3.5-turbo-0125", Some("gpt-3.5-turbo")),
        ("mistral-large-2411", Some("mistral-large")),
        ("claude-sonnet-4-5@20250929", Some("claude-sonnet-4-5")),
        ("claude-3-5-haiku-latest", Some("claude-3-5-haiku")),
        // Not a version suffix: the id is left alone.
        ("gpt-4o", None),
        ("gpt-4o-mini", None),
        ("gpt-4o-mini-search-preview", None),
        ("gemini-2.0-flash-001", None),
        ("gpt-4o-202", None),
        ("gpt-4o-12345", None),
        ("gpt-4o-2024-08", None),
        ("model-12-34", None),
        ("model@001", None),
        ("gpt-4o-", None),
        ("-latest", None),
        ("-2024", None),
        ("2024", None),
        ("", None),
    ];
    for (id, expected) in cases {
        assert_eq!(strip_version_suffix(id), expected, "{id}");
    }
}

#[test]
fn candidate_order_is_longest_prefix_first() {
    assert_eq!(
        candidates("openrouter/openai/gpt-4o-2024-08-06"),
        [
            "openrouter/openai/gpt-4o-2024-08-06",
            "openrouter/openai/gpt-4o",
            "openai/gpt-4o-2024-08-06",
            "openai/gpt-4o",
            "gpt-4o-2024-08-06",
            "gpt-4o",
        ]
    );
    assert_eq!(candidates("gpt-4o"), ["gpt-4o"]);
}

// ---------------------------------------------------------------- resolution

#[test]
fn resolves_exact_ids() {
    let prices = PriceTable::builtin();
    let found = prices.resolve("gpt-4o").expect("gpt-4o is priced");
    assert_eq!(found.model, "gpt-4o");
    assert_eq!(found.id, "gpt-4o");
    assert_eq!(found.provider, Some("openai"));
    assert_eq!(*found.price, Price::new(2.5, 10.0).with_cached_input(1.25));
    for model in ["o1", "o3", "o4-mini", "claude-haiku-4-5", "gemini-2.5-pro", "mistral-large"] {
        assert_eq!(key(&prices, model), Some(model));
    }
}

#[test]
fn resolution_is_case_insensitive() {
    let prices = PriceTable::builtin();
    assert_eq!(key(&prices, "GPT-4o"), Some("gpt-4o"));
    assert_eq!(key(&prices, "Claude-Sonnet-4-5"), Some("claude-sonnet-4-5"));
    assert_eq!(key(&prices, "OpenAI/GPT-4O-Mini-2024-07-18"), Some("gpt-4o-mini"));
    // Keys inserted with capitals are found in any case, and keep their spelling.
    let custom = table(&[("My-Model", Price::new(1.0, 2.0))]);
    let found = custom.resolve("MY-MODEL").expect("priced");
    assert_eq!((found.model, found.id), ("my-model", "My-Model"));
}

#[test]
fn resolves_each_date_suffix_form() {
    let prices = PriceTable::builtin();
    let cases = [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("o1-2024-12-17", "o1"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("mistral-large-2512", "mistral-large"),
        ("codestral-2508", "codestral"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
    ];
    for (model, expected) in cases {
        assert_eq!(key(&prices, model), Some(expected), "{model}");
    }
}

#[test]
fn resolves_latest_aliases() {
    let prices = PriceTable::builtin();
    assert_eq!(key(&prices, "claude-3-5-haiku-latest"), Some("claude-3-5-haiku"));
    assert_eq!(key(&prices, "claude-3-7-sonnet-latest"), Some("claude-3-7-sonnet"));
    assert_eq!(key(&prices, "mistral-large-latest"), Some("mistral-large"));
    assert_eq!(key(&prices, "gpt-5-chat-latest"), Some("gpt-5-chat"));
    assert_eq!(key(&prices, "gpt-4o-latest"), Some("gpt-4o"));
}

#[test]
fn an_exact_dated_key_wins_over_the_undated_one() {
    let prices = PriceTable::builtin();
    // gpt-4o-2024-05-13 and gpt-3.5-turbo-1106 have their own (higher) prices.
    let found = prices.resolve("gpt-4o-2024-05-13").expect("priced");
    assert_eq!((found.model, found.price.input), ("gpt-4o-2024-05-13", 5.0));
    let found = prices.resolve("gpt-3.5-turbo-1106").expect("priced");
    assert_eq!((found.model, found.price.input), ("gpt-3.5-turbo-1106", 1.0));
    let found = prices.resolve("mistral-large-2411").expect("priced");
    assert_eq!((found.model, found.price.input), ("mistral-large-2411", 2.0));
}

#[test]
fn resolves_provider_prefixed_ids() {
    let prices = PriceTable::builtin();
    let cases = [
        ("openai/gpt-4o", "gpt-4o"),
        ("azure/gpt-4o", "gpt-4o"),
        ("openrouter/openai/gpt-4o", "gpt-4o"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
        ("gemini/gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.0-flash", "gemini-2.0-flash"),
        ("mistral/open-mistral-nemo", "open-mistral-nemo"),
    ];
    for (model, expected) in cases {
        assert_eq!(key(&prices, model), Some(expected), "{model}");
    }
}

#[test]
fn resolves_prefixed_and_dated_ids() {
    let prices = PriceTable::builtin();
    let cases = [
        ("openai/gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openrouter/openai/gpt-4o-2024-08-06", "gpt-4o"),
        ("anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("vertex_ai/claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("mistral/mistral-medium-latest", "mistral-medium"),
        ("azure/gpt-4-0613", "gpt-4"),
    ];
    for (model, expected) in cases {
        assert_eq!(key(&prices, model), Some(expected), "{model}");
    }
}

#[test]
fn a_prefixed_table_key_wins_over_the_stripped_form() {
    let bare = Price::new(2.5, 10.0);
    let azure = Price::new(2.75, 11.0);
    let prices = table(&[("gpt-4o", bare), ("azure/gpt-4o", azure)]);
    assert_eq!(prices.resolve("azure/gpt-4o").map(|m| *m.price), Some(azure));
    assert_eq!(prices.resolve("Azure/GPT-4o-2024-08-06").map(|m| *m.price), Some(azure));
    assert_eq!(prices.resolve("openai/gpt-4o").map(|m| *m.price), Some(bare));
    assert_eq!(prices.resolve("gpt-4o").map(|m| *m.price), Some(bare));
}

#[test]
fn unknown_models_are_unpriced() {
    let prices = PriceTable::builtin();
    for model in [
        "gpt-4o-mini-search-preview",
        "gpt-4o-foo",
        "gpt-4o-mini-foo",
        "gpt-4o-2024-08-06-foo",
        "gpt-4o-",
        "gpt",
        "o1-mini",
        "llama-3.3-70b",
        "openai/",
        "/",
        "",
    ] {
        assert_eq!(key(&prices, model), None, "{model}");
        assert_eq!(prices.cost(model, &TokenCounts::new(10, 10)), None, "{model}");
    }
    assert!(PriceTable::empty().resolve("gpt-4o").is_none());
}

#[test]
fn never_prices_a_model_as_a_shorter_one() {
    // Each table holds only the shorter model; the longer one must stay unpriced.
    let cases = [
        ("gpt-4o", ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini"]),
        ("o1", ["o1-mini", "o1-mini-2024-09-12", "o1-preview"]),
        ("gpt-4.1", ["gpt-4.1-mini", "gpt-4.1-nano-2025-04-14", "gpt-4.1-mini-latest"]),
        (
            "claude-3-5-sonnet",
            ["claude-3-5-haiku", "claude-3-5-haiku-20241022", "anthropic/claude-3-5-haiku-latest"],
        ),
    ];
    for (short, longer) in cases {
        let prices = table(&[(short, Price::new(1.0, 1.0))]);
        for model in longer {
            assert_eq!(key(&prices, model), None, "{model} must not be priced as {short}");
        }
    }
    // With both in the table, each resolves to its own entry.
    let prices = PriceTable::builtin();
    let pairs = [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", 0.15),
        ("gpt-4o-2024-11-20", "gpt-4o", 2.5),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", 0.4),
        ("gpt-4.1-2025-04-14", "gpt-4.1", 2.0),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku", 0.8),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet", 3.0),
        ("o3-mini-2025-01-31", "o3-mini", 1.1),
        ("o3-2025-04-16", "o3", 2.0),
    ];
    for (model, expected, input) in pairs {
        let found = prices.resolve(model).expect(model);
        assert_eq!((found.model, found.price.input), (expected, input), "{model}");
    }
}

// ---------------------------------------------------------------- cost

#[test]
fn cost_of_plain_prompt_and_completion() {
    let price = Price::new(2.5, 10.0);
    assert_close(price.cost(&TokenCounts::new(1_000, 500)), 0.0075);
    assert_eq!(price.cost(&TokenCounts::default()), 0.0);
    assert_eq!(price.cost(&TokenCounts::new(1_000_000, 1_000_000)), 12.5);
}

#[test]
fn cached_tokens_are_billed_at_the_cached_rate() {
    let price = Price::new(2.5, 10.0).with_cached_input(1.25);
    let tokens = TokenCounts::new(1_000, 200).with_cached(400);
    // 600 × 2.5 + 400 × 1.25 + 200 × 10
    assert_close(price.cost(&tokens), (1_500.0 + 500.0 + 2_000.0) / 1e6);
}

#[test]
fn cache_writes_are_billed_at_the_cache_write_rate() {
    let price = Price::new(3.0, 15.0).with_cached_input(0.3).with_cache_write(3.75);
    let tokens = TokenCounts::new(10_000, 1_000).with_cached(6_000).with_cache_write(3_000);
    // 1000 × 3 + 6000 × 0.3 + 3000 × 3.75 + 1000 × 15
    assert_close(price.cost(&tokens), 0.03105);
    // Through the table, with the built-in Claude Sonnet 4.5 price.
    let cost = PriceTable::builtin().cost("claude-sonnet-4-5-20250929", &tokens);
    assert_close(cost.expect("priced"), 0.03105);
}

#[test]
fn missing_cache_prices_fall_back_to_input() {
    let price = Price::new(1.0, 2.0);
    let all_cached = TokenCounts::new(1_000, 0).with_cached(1_000);
    assert_close(price.cost(&all_cached), 0.001);
    let all_written = TokenCounts::new(1_000, 0).with_cache_write(1_000);
    assert_close(price.cost(&all_written), 0.001);
    // gpt-4-turbo has no cached price in the built-in table.
    let prices = PriceTable::builtin();
    assert_eq!(prices.resolve("gpt-4-turbo").expect("priced").price.cached_input, None);
    assert_close(prices.cost("gpt-4-turbo", &all_cached).expect("priced"), 0.01);
}

#[test]
fn inconsistent_counts_are_clamped() {
    let price = Price::new(1.0, 2.0).with_cached_input(0.5).with_cache_write(4.0);
    // More cached tokens than prompt tokens: all 1000 billed as cached.
    let tokens = TokenCounts::new(1_000, 0).with_cached(5_000);
    assert_close(price.cost(&tokens), 1_000.0 * 0.5 / 1e6);
    // cached + cache_write > prompt: writes are capped at what is left.
    let tokens = TokenCounts::new(1_000, 0).with_cached(700).with_cache_write(700);
    assert_close(price.cost(&tokens), (700.0 * 0.5 + 300.0 * 4.0) / 1e6);
    // Extreme values neither panic nor go negative.
    let tokens = TokenCounts {
        prompt_tokens: 10,
        completion_tokens: 0,
        cached_tokens: u64::MAX,
        cache_write_tokens: u64::MAX,
    };
    assert_close(price.cost(&tokens), 10.0 * 0.5 / 1e6);
    let tokens = TokenCounts::new(0, 0).with_cached(u64::MAX).with_cache_write(u64::MAX);
    assert_eq!(price.cost(&tokens), 0.0);
}

#[test]
fn table_cost_resolves_then_prices() {
    let prices = PriceTable::builtin();
    let tokens = TokenCounts::new(1_000, 200).with_cached(400);
    let cost = prices.cost("openai/gpt-4o-mini-2024-07-18", &tokens).expect("priced");
    assert_close(cost, (600.0 * 0.15 + 400.0 * 0.075 + 200.0 * 0.6) / 1e6);
    // Embedding models: output is free.
    let cost = prices.cost("text-embedding-3-small", &TokenCounts::new(1_000_000, 0));
    assert_eq!(cost, Some(0.02));
}

// ---------------------------------------------------------------- built-in table

#[test]
fn builtin_table_loads_with_enough_models() {
    let prices = PriceTable::builtin();
    assert!(prices.len() >= 50, "only {} models", prices.len());
    assert!(!prices.is_empty());
    assert_eq!(prices, *PriceTable::builtin_ref());
    assert_eq!(prices, PriceTable::builtin());
}

#[test]
fn builtin_checked_is_a_date() {
    let prices = PriceTable::builtin();
    let checked = prices.checked().expect("the built-in table has a date");
    assert!(is_date(checked), "{checked}");
    assert_eq!(checked, "2026-11-26");
}

#[test]
fn builtin_has_every_provider() {
    let prices = PriceTable::builtin();
    for provider in ["openai", "anthropic", "google", "mistral"] {
        let count = prices.iter().filter(|m| m.provider == Some(provider)).count();
        assert!(count >= 10, "{provider}: {count} models");
    }
    assert!(prices.iter().all(|m| m.provider.is_some()), "every built-in entry names its provider");
}

#[test]
fn builtin_covers_the_required_models() {
    let prices = PriceTable::builtin();
    let required = [
        // OpenAI
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-5.1",
        "gpt-5.2",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.5",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "gpt-4o",
        "gpt-4o-mini",
        "o1",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-3.5-turbo",
        "gpt-4-turbo",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        // Anthropic
        "claude-opus-4-5",
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-haiku-4-5",
        "claude-3-7-sonnet",
        "claude-3-5-haiku",
        "claude-3-haiku",
        // Google
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.0-flash",
        "gemini-2.0-flash-lite",
        "gemini-3-pro-preview",
        "gemini-3-flash-preview",
        "gemini-embedding-001",
        // Mistral
        "mistral-large",
        "mistral-medium",
        "mistral-small",
        "codestral",
        "ministral-8b",
        "pixtral-large",
        "open-mistral-nemo",
        "magistral-medium",
        "mistral-embed",
    ];
    for model in required {
        assert_eq!(key(&prices, model), Some(model), "{model} missing from the built-in table");
    }
}

#[test]
fn builtin_prices_are_sane() {
    for m in PriceTable::builtin().iter() {
        let p = m.price;
        let all = [Some(p.input), Some(p.output), p.cached_input, p.cache_write];
        for value in all.into_iter().flatten() {
            assert!(value.is_finite() && value >= 0.0, "{}: {value}", m.model);
        }
        if let Some(cached) = p.cached_input {
            assert!(cached <= p.input, "{}: cache reads cost more than input", m.model);
        }
        if let Some(write) = p.cache_write {
            assert!(write >= p.input, "{}: cache writes cost less than input", m.model);
        }
        if m.model.contains("embed") {
            assert_eq!(p.output, 0.0, "{}: embedding output must be 0", m.model);
        } else {
            assert!(p.input > 0.0 && p.output > 0.0, "{}: free?", m.model);
        }
        // Keys are lowercase and every key resolves to itself.
        assert_eq!(m.model, m.model.to_ascii_lowercase());
        assert_eq!(m.model, m.id);
        assert_eq!(key(PriceTable::builtin_ref(), m.model), Some(m.model));
    }
}

#[test]
fn builtin_anthropic_models_have_cache_prices() {
    for m in PriceTable::builtin().iter().filter(|m| m.provider == Some("anthropic")) {
        assert!(m.price.cached_input.is_some(), "{}", m.model);
        assert!(m.price.cache_write.is_some(), "{}", m.model);
    }
}

// ---------------------------------------------------------------- LiteLLM

#[test]
fn per_token_conversion_is_decimal_exact() {
    let cases = [
        (2.5e-06, 2.5),
        (3e-07, 0.3),
        (1.1e-06, 1.1),
        (7.5e-08, 0.075),
        (1.875e-08, 0.01875),
        (5e-09, 0.005),
        (0.000168, 168.0),
        (1.5e-05, 15.0),
        (4.4e-06, 4.4),
        (1e-05, 10.0),
        (1.6e-06, 1.6),
        (0.0, 0.0),
    ];
    for (per_token, per_million) in cases {
        assert_eq!(per_token_to_per_million(per_token), per_million, "{per_token}");
    }
    // The naive product is off for some of these, which is why the
    // conversion goes through the decimal representation.
    assert_ne!(1.6e-06 * 1e6, 1.6);
}

#[test]
fn litellm_excerpt_loads_with_per_million_prices() {
    let prices = PriceTable::from_json_str(LITELLM_EXCERPT, "litellm_excerpt.json").expect("loads");
    assert_eq!(prices.len(), 14);
    assert_eq!(prices.checked(), None);

    let gpt_4o = prices.resolve("gpt-4o").expect("priced");
    assert_eq!(*gpt_4o.price, Price::new(2.5, 10.0).with_cached_input(1.25));
    assert_eq!(gpt_4o.provider, Some("openai"));

    let expectations = [
        ("gpt-4o-mini", Price::new(0.15, 0.6).with_cached_input(0.075)),
        ("gpt-5-nano", Price::new(0.05, 0.4).with_cached_input(0.005)),
        ("gpt-3.5-turbo", Price::new(0.5, 1.5)),
        ("o3-mini", Price::new(1.1, 4.4).with_cached_input(0.55)),
        ("gpt-5.6", Price::new(5.0, 30.0).with_cached_input(0.5).with_cache_write(6.25)),
        ("claude-haiku-4-5", Price::new(1.0, 5.0).with_cached_input(0.1).with_cache_write(1.25)),
        (
            "claude-3-haiku-20240307",
            Price::new(0.25, 1.25).with_cached_input(0.03).with_cache_write(0.3),
        ),
        ("gemini/gemini-2.0-flash-lite", Price::new(0.075, 0.3).with_cached_input(0.01875)),
        ("gemini/gemini-2.5-flash-lite", Price::new(0.1, 0.4).with_cached_input(0.01)),
        ("mistral/mistral-large-latest", Price::new(0.5, 1.5)),
        ("mistral/mistral-embed", Price::new(0.1, 0.0)),
        ("text-embedding-3-small", Price::new(0.02, 0.0)),
        ("openrouter/openai/gpt-4o", Price::new(2.5, 10.0)),
    ];
    for (model, price) in expectations {
        let found = prices.resolve(model).unwrap_or_else(|| panic!("{model} missing"));
        assert_eq!(found.model, model);
        assert_eq!(*found.price, price, "{model}");
    }
    assert_eq!(
        prices.resolve("gemini/gemini-2.5-flash-lite").and_then(|m| m.provider),
        Some("gemini")
    );

    // Not priced per token: skipped.
    for model in ["sample_spec", "1024-x-1024/dall-e-2", "amazon.nova-canvas-v1:0", "gpt-image-1"] {
        assert!(prices.iter().all(|m| m.model != model), "{model} should be skipped");
    }
}

#[test]
fn litellm_prefixed_keys_win_and_resolution_works() {
    let prices = PriceTable::from_json_str(LITELLM_EXCERPT, "litellm_excerpt.json").expect("loads");
    // OpenRouter's own entry (no cached price) wins for the OpenRouter id...
    let found = prices.resolve("openrouter/openai/gpt-4o").expect("priced");
    assert_eq!((found.model, found.provider), ("openrouter/openai/gpt-4o", Some("openrouter")));
    assert_eq!(found.price.cached_input, None);
    // ...other prefixes and dates fall back to the OpenAI entry.
    assert_eq!(key(&prices, "openai/gpt-4o-2024-08-06"), Some("gpt-4o"));
    assert_eq!(key(&prices, "claude-3-haiku-20240307"), Some("claude-3-haiku-20240307"));
    assert_eq!(key(&prices, "mistral/mistral-large-latest"), Some("mistral/mistral-large-latest"));
    assert_eq!(key(&prices, "gpt-4o-mini-search-preview"), None);
}

#[test]
fn litellm_semantic_errors_name_the_model() {
    let json = "{\n  \"good\": { \"input_cost_per_token\": 1e-06, \"output_cost_per_token\": 2e-06 },\n  \"bad-model\": {\n    \"input_cost_per_token\": -1e-06,\n    \"output_cost_per_token\": 2e-06\n  }\n}\n";
    let err = PriceTable::from_json_str(json, "litellm.json").expect_err("negative cost");
    match &err {
        PriceError::Invalid { model, line, .. } => {
            assert_eq!(model.as_deref(), Some("bad-model"));
            assert_eq!(*line, Some(4));
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    for part in ["litellm.json", "bad-model", "line 4", "input_cost_per_token"] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
}

// ---------------------------------------------------------------- own format

const OWN: &str = r#"{
  "checked": "2026-01-15",
  "unit": "USD per 1M tokens",
  "source": "test",
  "models": {
    "Model-A": { "provider": "acme", "input": 1.5, "cached_input": 0.15, "cache_write": 1.875, "output": 6 },
    "model-b": { "input": 0, "output": 0, "cached_input": null }
  }
}"#;

#[test]
fn own_format_loads() {
    let prices = PriceTable::from_json_str(OWN, "own.json").expect("loads");
    assert_eq!(prices.len(), 2);
    assert_eq!(prices.checked(), Some("2026-01-15"));
    let a = prices.resolve("model-a").expect("priced");
    assert_eq!((a.model, a.id, a.provider), ("model-a", "Model-A", Some("acme")));
    assert_eq!(*a.price, Price::new(1.5, 6.0).with_cached_input(0.15).with_cache_write(1.875));
    let b = prices.resolve("model-b").expect("priced");
    assert_eq!((*b.price, b.provider), (Price::new(0.0, 0.0), None));
    // Optional top-level fields may be omitted.
    let minimal = PriceTable::from_json_str(r#"{"models": {}}"#, "min.json").expect("loads");
    assert!(minimal.is_empty());
    assert_eq!(minimal.checked(), None);
}

/// Loads `json`, expecting an error; returns it and its message.
fn load_err(json: &str, name: &str) -> (PriceError, String) {
    let err = PriceTable::from_json_str(json, name).expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains(name), "file name missing from {text:?}");
    (err, text)
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let json = "{\n  \"checked\": \"2026-01-01\",\n  \"models\": {\n    \"m1\": { \"input\": 1.0 \"output\": 2.0 }\n  }\n}\n";
    let (err, text) = load_err(json, "prices.json");
    match err {
        PriceError::Parse { line, column, ref message, .. } => {
            assert_eq!(line, 4);
            assert_eq!(column, 26);
            assert!(message.contains("expected"), "{message}");
            assert!(!message.contains("at line"), "position repeated in {message:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(text.starts_with("price file prices.json: line 4, column 26: expected"), "{text}");
    // Truncated and empty files are syntax errors too.
    assert!(matches!(
        load_err("{\n  \"models\": {", "cut.json").0,
        PriceError::Parse { line: 2, .. }
    ));
    assert!(matches!(load_err("", "empty.json").0, PriceError::Parse { .. }));
}

#[test]
fn negative_price_names_model_and_line() {
    let json = "{\n  \"models\": {\n    \"ok\": { \"input\": 1, \"output\": 2 },\n    \"gpt-neg\": { \"input\": -1.0, \"output\": 2.0 }\n  }\n}\n";
    let (err, text) = load_err(json, "neg.json");
    match err {
        PriceError::Invalid { ref model, line, .. } => {
            assert_eq!(model.as_deref(), Some("gpt-neg"));
            assert_eq!(line, Some(4));
        }
        other => panic!("unexpected {other:?}"),
    }
    for part in ["neg.json", "line 4", "model \"gpt-neg\"", "`input`", "-1"] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
}

#[test]
fn semantic_errors_in_own_format() {
    // (json, model named in the error, text the message must contain)
    let cases = [
        (r#"{"models": {"m": {"input": "2.5", "output": 1}}}"#, Some("m"), "must be a number"),
        (r#"{"models": {"m": {"input": 1, "output": true}}}"#, Some("m"), "`output`"),
        (r#"{"models": {"m": {"output": 1}}}"#, Some("m"), "missing `input`"),
        (r#"{"models": {"m": {"input": 1}}}"#, Some("m"), "missing `output`"),
        (
            r#"{"models": {"m": {"input": 1, "output": 1, "inptu": 1}}}"#,
            Some("m"),
            "unknown field `inptu`",
        ),
        (
            r#"{"models": {"m": {"input": 1, "output": 1, "cached_input": -0.5}}}"#,
            Some("m"),
            "`cached_input`",
        ),
        (
            r#"{"models": {"m": {"input": 1, "output": 1, "cache_write": "x"}}}"#,
            Some("m"),
            "`cache_write`",
        ),
        (r#"{"models": {"m": {"input": 1, "output": 1, "provider": 7}}}"#, Some("m"), "`provider`"),
        (r#"{"models": {"m": {"input": 1, "input": 2, "output": 1}}}"#, Some("m"), "appears twice"),
        (r#"{"models": {"m": [1, 2]}}"#, Some("m"), "price object"),
        (
            r#"{"models": {"GPT-X": {"input": 1, "output": 1}, "gpt-x": {"input": 1, "output": 1}}}"#,
            Some("gpt-x"),
            "listed twice",
        ),
        (r#"{"models": {" m": {"input": 1, "output": 1}}}"#, Some(" m"), "surrounding spaces"),
        (r#"{"models": {}, "extra": 1}"#, None, "unknown top-level field `extra`"),
        (r#"{"models": [], "checked": "2026-01-01"}"#, None, "mapping model ids"),
        (r#"{"checked": "26/11/2026", "models": {}}"#, None, "YYYY-MM-DD"),
        (r#"{"unit": "USD per 1K tokens", "models": {}}"#, None, "`unit`"),
        (r#"{"source": 3, "models": {}}"#, None, "`source`"),
    ];
    for (json, expected_model, expected_text) in cases {
        let (err, text) = load_err(json, "bad.json");
        match err {
            PriceError::Invalid { ref model, line, .. } => {
                assert_eq!(model.as_deref(), expected_model, "{json}");
                assert_eq!(line, Some(1), "{json}");
            }
            other => panic!("{json}: unexpected {other:?}"),
        }
        assert!(text.contains(expected_text), "{expected_text:?} not in {text:?}");
    }
}

#[test]
fn unknown_format_is_reported() {
    for json in [r#"{"foo": 1}"#, "[]", r#"{"a": {"b": 1}}"#, "{}", "42", r#""text""#] {
        let (err, text) = load_err(json, "mystery.json");
        assert!(matches!(err, PriceError::UnknownFormat { .. }), "{json}: {err:?}");
        assert!(text.contains("unknown format"), "{text}");
    }
}

// ---------------------------------------------------------------- files

#[test]
fn from_file_reads_and_names_the_path() {
    let file = TempFile::new("ok.json", OWN);
    let prices = PriceTable::from_file(&file.0).expect("loads");
    assert_eq!(prices.len(), 2);

    let bad = TempFile::new("bad.json", "{\n\n\n  \"models\": oops\n}");
    let err = PriceTable::from_file(&bad.0).expect_err("invalid");
    assert!(matches!(err, PriceError::Parse { line: 4, .. }), "{err:?}");
    assert!(err.to_string().contains(&bad.0.display().to_string()), "{err}");
}

#[test]
fn unreadable_file_gives_the_path_and_os_error() {
    let path = std::env::temp_dir().join("llm-trace-pricing-no-such-dir/prices.json");
    let err = PriceTable::from_file(&path).expect_err("missing file");
    match &err {
        PriceError::Io { path: reported, source } => {
            assert_eq!(reported, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn builtin_extended_with_a_file_lets_the_file_win() {
    let overrides = r#"{
      "checked": "2020-01-01",
      "models": {
        "gpt-4o": { "provider": "openai", "input": 2.0, "output": 8.0 },
        "in-house-model": { "input": 0.2, "output": 0.4 }
      }
    }"#;
    let file = TempFile::new("overrides.json", overrides);
    let prices = PriceTable::builtin_extended_with(&file.0).expect("loads");
    assert_eq!(prices.len(), PriceTable::builtin().len() + 1);
    assert_eq!(*prices.resolve("gpt-4o-2024-08-06").expect("priced").price, Price::new(2.0, 8.0));
    assert_eq!(prices.resolve("in-house-model").expect("priced").price.input, 0.2);
    assert_eq!(prices.resolve("gpt-4o-mini").expect("priced").price.input, 0.15);
    assert_eq!(prices.checked(), PriceTable::builtin().checked());

    let litellm = TempFile::new("litellm.json", LITELLM_EXCERPT);
    let prices = PriceTable::builtin_extended_with(&litellm.0).expect("loads");
    // Unprefixed names still resolve through the built-in entries.
    assert_eq!(key(&prices, "gemini-2.5-flash-lite"), Some("gemini-2.5-flash-lite"));
    assert_eq!(key(&prices, "gemini/gemini-2.5-flash-lite"), Some("gemini/gemini-2.5-flash-lite"));
}

// ---------------------------------------------------------------- table operations

#[test]
fn extend_lets_the_other_table_win() {
    let mut base = PriceTable::from_json_str(OWN, "own.json").expect("loads");
    let mut other = table(&[("MODEL-A", Price::new(9.0, 9.0)), ("model-c", Price::new(1.0, 1.0))]);
    other.checked = Some("1999-01-01".to_owned());
    base.extend(other);
    assert_eq!(base.len(), 3);
    let a = base.resolve("model-a").expect("priced");
    assert_eq!((*a.price, a.id, a.provider), (Price::new(9.0, 9.0), "MODEL-A", None));
    assert_eq!(base.checked(), Some("2026-01-15"));

    // An undated table takes the other's date.
    let mut undated = PriceTable::empty();
    undated.extend(PriceTable::builtin());
    assert_eq!(undated.checked(), PriceTable::builtin().checked());
    assert_eq!(undated.len(), PriceTable::builtin().len());
}

#[test]
fn insert_replaces_case_insensitively() {
    let mut prices = PriceTable::empty();
    assert!(prices.is_empty());
    assert_eq!(prices.insert("Foo", Price::new(1.0, 2.0)), None);
    assert_eq!(prices.insert("foo", Price::new(3.0, 4.0)), Some(Price::new(1.0, 2.0)));
    assert_eq!(prices.len(), 1);
    assert_eq!(prices.insert_with_provider("bar", "acme", Price::new(1.0, 1.0)), None);
    assert_eq!(prices.resolve("BAR").and_then(|m| m.provider), Some("acme"));
    // Replacing a built-in price.
    let mut builtin = PriceTable::builtin();
    let old = builtin.insert("gpt-4o", Price::new(1.0, 1.0)).expect("was priced");
    assert_eq!(old.input, 2.5);
    assert_eq!(builtin.len(), PriceTable::builtin().len());
}

#[test]
fn iter_is_sorted_by_model() {
    let prices = PriceTable::builtin();
    let keys: Vec<&str> = prices.iter().map(|m| m.model).collect();
    assert_eq!(keys.len(), prices.len());
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "not sorted");
    assert_eq!(PriceTable::empty().iter().count(), 0);
}

#[test]
fn price_serde_round_trip() {
    let price = Price::new(3.0, 15.0).with_cached_input(0.3);
    let json = serde_json::to_string(&price).expect("serializes");
    assert_eq!(json, r#"{"input":3.0,"cached_input":0.3,"output":15.0}"#);
    assert_eq!(serde_json::from_str::<Price>(&json).expect("deserializes"), price);
}

#[test]
fn date_check() {
    assert!(is_date("2026-11-26"));
    for bad in
        ["2026-13-01", "2026-00-10", "2026-1-01", "26-11-2026", "2026/11/26", "2026-11-32", ""]
    {
        assert!(!is_date(bad), "{bad}");
    }
}

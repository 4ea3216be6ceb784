//! Model prices and the cost in USD of one LLM call.
//!
//! A [`PriceTable`] maps model ids to [`Price`]s (USD per one million
//! tokens). [`PriceTable::builtin`] is the table shipped with the crate
//! (`prices/builtin.json`, see [`PriceTable::checked`] for its date); tables
//! can also be loaded from a file in the same format or from LiteLLM's
//! `model_prices_and_context_window.json` ([`PriceTable::from_file`]), and
//! merged ([`PriceTable::extend`], [`PriceTable::builtin_extended_with`]).
//!
//! [`PriceTable::resolve`] finds the price of the model id a provider
//! reports, which often carries a provider prefix or a snapshot date:
//!
//! 1. the exact id, case-insensitively;
//! 2. then, for the id and for each remainder left after removing one more
//!    leading `segment/` (`openrouter/openai/gpt-4o` → `openai/gpt-4o` →
//!    `gpt-4o`), that remainder and that remainder without a date/snapshot
//!    suffix (`-2024-07-18`, `-20241022`, `-0613` (exactly four digits),
//!    `@20241022`, `-latest`). A table key that itself has a prefix (such as
//!    `azure/gpt-4o`) is therefore found before the bare `gpt-4o`.
//!
//! Only whole segments are removed: `gpt-4o-mini` is never priced as
//! `gpt-4o`, and an unknown variant such as `gpt-4o-mini-search-preview` is
//! unpriced (`None`) unless the table lists it. A model without a price gives
//! `None`, never a guess.
//!
//! # Example
//!
//! ```
//! use llm_trace_core::pricing::{PriceTable, TokenCounts};
//!
//! let prices = PriceTable::builtin();
//! let tokens = TokenCounts {
//!     prompt_tokens: 1_000,
//!     completion_tokens: 200,
//!     cached_tokens: 400,
//!     cache_write_tokens: 0,
//! };
//! // 600 × $0.15 + 400 × $0.075 + 200 × $0.60, per million tokens
//! let cost = prices.cost("openai/gpt-4o-mini-2024-07-18", &tokens).unwrap();
//! assert!((cost - 0.00024).abs() < 1e-12);
//! assert_eq!(prices.cost("gpt-4o-mini-search-preview", &tokens), None);
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

mod error;
mod litellm;
mod parse;
mod resolve;
#[cfg(test)]
mod tests;

pub use error::PriceError;

/// USD per one million tokens.
///
/// `cached_input` is the price of prompt tokens read from a prompt cache
/// (OpenAI "cached input", Anthropic "cache hits", Gemini "context caching");
/// `cache_write` the price of prompt tokens written to the cache (Anthropic
/// "cache writes", 5-minute tier). When either is `None` those tokens are
/// billed at `input`.
///
/// ```
/// use llm_trace_core::pricing::{Price, TokenCounts};
///
/// const GPT_4O: Price = Price::new(2.5, 10.0).with_cached_input(1.25);
/// let tokens = TokenCounts {
///     prompt_tokens: 2_000_000,
///     completion_tokens: 100_000,
///     cached_tokens: 1_000_000,
///     cache_write_tokens: 0,
/// };
/// // 1M × $2.50 + 1M × $1.25 + 0.1M × $10
/// assert_eq!(GPT_4O.cost(&tokens), 4.75);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens, USD per 1M.
    pub input: f64,
    /// Prompt tokens read from a prompt cache, USD per 1M (`None`: billed at `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Prompt tokens written to a prompt cache, USD per 1M (`None`: billed at `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Completion tokens (reasoning tokens included), USD per 1M.
    pub output: f64,
}

impl Price {
    /// A price without cache prices: `input` and `output` in USD per 1M tokens.
    pub const fn new(input: f64, output: f64) -> Price {
        Price { input, cached_input: None, cache_write: None, output }
    }

    /// The same price with a cache-read price, USD per 1M tokens.
    pub const fn with_cached_input(self, usd_per_million: f64) -> Price {
        Price { cached_input: Some(usd_per_million), ..self }
    }

    /// The same price with a cache-write price, USD per 1M tokens.
    pub const fn with_cache_write(self, usd_per_million: f64) -> Price {
        Price { cache_write: Some(usd_per_million), ..self }
    }

    /// The cost in USD of one call.
    ///
    /// `prompt_tokens` INCLUDES `cached_tokens` and `cache_write_tokens`
    /// (OpenAI semantics). Cached tokens are billed at `cached_input` (or
    /// `input` if none), cache writes at `cache_write` (or `input` if none),
    /// the rest of the prompt at `input`, and completion tokens (reasoning
    /// tokens included) at `output`.
    ///
    /// Inconsistent counts do not underflow: cached tokens are capped at
    /// `prompt_tokens`, then cache writes at what is left of the prompt.
    ///
    /// ```
    /// use llm_trace_core::pricing::{Price, TokenCounts};
    ///
    /// let sonnet = Price::new(3.0, 15.0).with_cached_input(0.3).with_cache_write(3.75);
    /// let tokens = TokenCounts {
    ///     prompt_tokens: 10_000,
    ///     completion_tokens: 1_000,
    ///     cached_tokens: 6_000,
    ///     cache_write_tokens: 3_000,
    /// };
    /// // (1000 × 3 + 6000 × 0.3 + 3000 × 3.75 + 1000 × 15) / 1e6
    /// assert!((sonnet.cost(&tokens) - 0.03105).abs() < 1e-12);
    /// ```
    pub fn cost(&self, tokens: &TokenCounts) -> f64 {
        let prompt = tokens.prompt_tokens;
        let cached = tokens.cached_tokens.min(prompt);
        let cache_write = tokens.cache_write_tokens.min(prompt - cached);
        let uncached = prompt - cached - cache_write;
        let usd_per_million = uncached as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + cache_write as f64 * self.cache_write.unwrap_or(self.input)
            + tokens.completion_tokens as f64 * self.output;
        usd_per_million / 1_000_000.0
    }
}

/// The token counts of one call, in OpenAI's convention.
///
/// `prompt_tokens` is the whole prompt, including `cached_tokens` (read from
/// a prompt cache) and `cache_write_tokens` (written to it).
/// `completion_tokens` includes reasoning tokens. For Anthropic, whose
/// `input_tokens` excludes the cache, use
/// `prompt_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens`.
///
/// ```
/// use llm_trace_core::pricing::TokenCounts;
///
/// let tokens = TokenCounts::new(1_200, 300).with_cached(1_000);
/// assert_eq!(tokens.prompt_tokens, 1_200);
/// assert_eq!(tokens.cached_tokens, 1_000);
/// assert_eq!(tokens.cache_write_tokens, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// All prompt tokens, cached and cache-written ones included.
    pub prompt_tokens: u64,
    /// Completion tokens, reasoning tokens included.
    pub completion_tokens: u64,
    /// Prompt tokens read from a prompt cache (part of `prompt_tokens`).
    pub cached_tokens: u64,
    /// Prompt tokens written to a prompt cache (part of `prompt_tokens`).
    pub cache_write_tokens: u64,
}

impl TokenCounts {
    /// Counts without any cache use.
    pub const fn new(prompt_tokens: u64, completion_tokens: u64) -> TokenCounts {
        TokenCounts { prompt_tokens, completion_tokens, cached_tokens: 0, cache_write_tokens: 0 }
    }

    /// The same counts with `cached_tokens` set (they stay part of `prompt_tokens`).
    pub const fn with_cached(self, cached_tokens: u64) -> TokenCounts {
        TokenCounts { cached_tokens, ..self }
    }

    /// The same counts with `cache_write_tokens` set (they stay part of `prompt_tokens`).
    pub const fn with_cache_write(self, cache_write_tokens: u64) -> TokenCounts {
        TokenCounts { cache_write_tokens, ..self }
    }
}

/// One table entry: the id as written in the source, the price, the provider.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: String,
    provider: Option<String>,
    price: Price,
}

impl Entry {
    fn as_match<'a>(&'a self, key: &'a str) -> PriceMatch<'a> {
        PriceMatch {
            model: key,
            id: &self.id,
            provider: self.provider.as_deref(),
            price: &self.price,
        }
    }
}

/// The result of a lookup: which table entry priced the model.
///
/// ```
/// use llm_trace_core::pricing::PriceTable;
///
/// let prices = PriceTable::builtin();
/// let found = prices.resolve("anthropic/claude-3-5-haiku-20241022").unwrap();
/// assert_eq!(found.model, "claude-3-5-haiku");
/// assert_eq!(found.provider, Some("anthropic"));
/// assert_eq!(found.price.input, 0.8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceMatch<'a> {
    /// The table key that matched (lowercase).
    pub model: &'a str,
    /// The model id as written where the entry came from (original case).
    pub id: &'a str,
    /// The provider recorded for the entry, if any (`"openai"`, `"anthropic"`, ...).
    pub provider: Option<&'a str>,
    /// The price.
    pub price: &'a Price,
}

/// Model prices, keyed by lowercase model id.
///
/// ```
/// use llm_trace_core::pricing::{Price, PriceTable, TokenCounts};
///
/// let mut prices = PriceTable::builtin();
/// // Add a model of your own, or override a built-in price.
/// prices.insert("my-finetune", Price::new(3.0, 12.0));
///
/// assert!(prices.len() >= 50);
/// assert_eq!(prices.resolve("My-Finetune").unwrap().model, "my-finetune");
/// let cost = prices.cost("my-finetune", &TokenCounts::new(1_000_000, 0)).unwrap();
/// assert_eq!(cost, 3.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    entries: HashMap<String, Entry>,
    checked: Option<String>,
}

/// The built-in price file, in the llm-trace format.
const BUILTIN_JSON: &str = include_str!("../../prices/builtin.json");

/// The name used for the built-in file in error messages.
const BUILTIN_NAME: &str = "prices/builtin.json (built in)";

impl PriceTable {
    /// A table without any price.
    pub fn empty() -> PriceTable {
        PriceTable::default()
    }

    /// The table shipped in the crate (`prices/builtin.json`), parsed once on
    /// first use. Returns a clone; see [`PriceTable::builtin_ref`] to borrow
    /// the shared copy instead.
    ///
    /// ```
    /// use llm_trace_core::pricing::PriceTable;
    ///
    /// let prices = PriceTable::builtin();
    /// assert_eq!(prices.resolve("gpt-4o").unwrap().price.input, 2.5);
    /// ```
    pub fn builtin() -> PriceTable {
        PriceTable::builtin_ref().clone()
    }

    /// The shared built-in table, parsed once on first use.
    ///
    /// # Panics
    ///
    /// If the built-in file is invalid, which the crate's tests rule out.
    pub fn builtin_ref() -> &'static PriceTable {
        static BUILTIN: OnceLock<PriceTable> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            PriceTable::from_json_str(BUILTIN_JSON, BUILTIN_NAME)
                .unwrap_or_else(|e| panic!("the built-in price table is invalid: {e}"))
        })
    }

    /// The date (`YYYY-MM-DD`) the prices were checked: for the built-in
    /// table the `checked` field of `prices/builtin.json`, for a loaded
    /// table the `checked` field of its file, if any (LiteLLM files have
    /// none). [`PriceTable::extend`] keeps this table's date.
    ///
    /// ```
    /// use llm_trace_core::pricing::PriceTable;
    ///
    /// let checked = PriceTable::builtin().checked().unwrap().to_owned();
    /// assert_eq!(checked.len(), "YYYY-MM-DD".len());
    /// assert_eq!(PriceTable::empty().checked(), None);
    /// ```
    pub fn checked(&self) -> Option<&str> {
        self.checked.as_deref()
    }

    /// Sets (or replaces) the price of `model` (case-insensitive), without a
    /// provider. Returns the previous price of that model, if any.
    ///
    /// ```
    /// use llm_trace_core::pricing::{Price, PriceTable};
    ///
    /// let mut prices = PriceTable::empty();
    /// assert_eq!(prices.insert("Local-Llama", Price::new(0.0, 0.0)), None);
    /// let old = prices.insert("local-llama", Price::new(0.1, 0.1));
    /// assert_eq!(old, Some(Price::new(0.0, 0.0)));
    /// assert_eq!(prices.len(), 1);
    /// ```
    pub fn insert(&mut self, model: impl Into<String>, price: Price) -> Option<Price> {
        self.insert_entry(model.into(), None, price)
    }

    /// Like [`PriceTable::insert`], recording the provider of the model.
    pub fn insert_with_provider(
        &mut self,
        model: impl Into<String>,
        provider: impl Into<String>,
        price: Price,
    ) -> Option<Price> {
        self.insert_entry(model.into(), Some(provider.into()), price)
    }

    fn insert_entry(
        &mut self,
        id: String,
        provider: Option<String>,
        price: Price,
    ) -> Option<Price> {
        let key = id.to_ascii_lowercase();
        self.entries.insert(key, Entry { id, provider, price }).map(|old| old.price)
    }

    /// Adds every entry of `other`; where both tables have a model, `other`
    /// wins. The `checked` date of `self` is kept (`other`'s is taken only
    /// when `self` has none).
    ///
    /// ```
    /// use llm_trace_core::pricing::{Price, PriceTable};
    ///
    /// let mut prices = PriceTable::builtin();
    /// let mut negotiated = PriceTable::empty();
    /// negotiated.insert("gpt-4o", Price::new(2.0, 8.0));
    /// prices.extend(negotiated);
    /// assert_eq!(prices.resolve("gpt-4o").unwrap().price.input, 2.0);
    /// ```
    pub fn extend(&mut self, other: PriceTable) {
        if self.checked.is_none() {
            self.checked = other.checked;
        }
        self.entries.extend(other.entries);
    }

    /// The number of models.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no model.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, sorted by model id (the lowercase table key).
    ///
    /// ```
    /// use llm_trace_core::pricing::PriceTable;
    ///
    /// let prices = PriceTable::builtin();
    /// let anthropic = prices.iter().filter(|m| m.provider == Some("anthropic")).count();
    /// assert!(anthropic > 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = PriceMatch<'_>> {
        let mut all: Vec<PriceMatch<'_>> =
            self.entries.iter().map(|(key, entry)| entry.as_match(key)).collect();
        all.sort_unstable_by(|a, b| a.model.cmp(b.model));
        all.into_iter()
    }

    /// Parses a price file, in the llm-trace format (a top-level `models`
    /// object) or in LiteLLM's `model_prices_and_context_window.json` format,
    /// detected automatically. `source` names the text in error messages.
    ///
    /// The llm-trace format (prices in USD per 1M tokens; `checked`, `unit`,
    /// `source`, `provider`, `cached_input` and `cache_write` are optional;
    /// unknown fields are errors):
    ///
    /// ```
    /// use llm_trace_core::pricing::PriceTable;
    ///
    /// let json = r#"{
    ///   "checked": "2026-11-26",
    ///   "unit": "USD per 1M tokens",
    ///   "source": "our contract with the provider",
    ///   "models": {
    ///     "gpt-4o": { "provider": "openai", "input": 2.0, "cached_input": 1.0, "output": 8.0 },
    ///     "my-model": { "input": 0.5, "output": 1.5 }
    ///   }
    /// }"#;
    /// let prices = PriceTable::from_json_str(json, "contract.json")?;
    /// assert_eq!(prices.len(), 2);
    /// assert_eq!(prices.checked(), Some("2026-11-26"));
    /// # Ok::<(), llm_trace_core::pricing::PriceError>(())
    /// ```
    ///
    /// LiteLLM prices are per token and are converted to per million tokens;
    /// entries not priced per token (images, audio seconds, ...) are skipped.
    ///
    /// # Errors
    ///
    /// [`PriceError::Parse`] for invalid JSON, [`PriceError::Invalid`] for a
    /// bad entry (naming the model and line), [`PriceError::UnknownFormat`]
    /// for JSON in neither format.
    pub fn from_json_str(json: &str, source: &str) -> Result<PriceTable, PriceError> {
        parse::parse_any(json, source)
    }

    /// Reads and parses a price file (see [`PriceTable::from_json_str`]);
    /// errors name the path.
    ///
    /// # Errors
    ///
    /// [`PriceError::Io`] if the file cannot be read, otherwise as
    /// [`PriceTable::from_json_str`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<PriceTable, PriceError> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path)
            .map_err(|source| PriceError::Io { path: path.to_path_buf(), source })?;
        PriceTable::from_json_str(&json, &path.display().to_string())
    }

    /// The built-in table extended with the file at `path`, whose prices win:
    /// `builtin().extend(from_file(path)?)`.
    ///
    /// # Errors
    ///
    /// As [`PriceTable::from_file`].
    pub fn builtin_extended_with(path: impl AsRef<Path>) -> Result<PriceTable, PriceError> {
        let extra = PriceTable::from_file(path)?;
        let mut table = PriceTable::builtin();
        table.extend(extra);
        Ok(table)
    }

    /// Finds the price of `model`, following the rules in the
    /// [module documentation](self): exact id (case-insensitive), then
    /// without provider prefixes and without a date/snapshot suffix, whole
    /// segments only. `None` when the model has no price.
    ///
    /// Runs on every traced call: an exact hit on an already lowercase id
    /// does not allocate, and no fallback allocates either.
    ///
    /// ```
    /// use llm_trace_core::pricing::PriceTable;
    ///
    /// let prices = PriceTable::builtin();
    /// assert_eq!(prices.resolve("gpt-4o-mini-2024-07-18").unwrap().model, "gpt-4o-mini");
    /// assert_eq!(prices.resolve("openrouter/openai/gpt-4o").unwrap().model, "gpt-4o");
    /// assert_eq!(prices.resolve("claude-sonnet-4-5@20250929").unwrap().model, "claude-sonnet-4-5");
    /// assert!(prices.resolve("gpt-4o-foo").is_none());
    /// ```
    pub fn resolve(&self, model: &str) -> Option<PriceMatch<'_>> {
        if self.entries.is_empty() {
            return None;
        }
        let lowered;
        let model = if model.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = model.to_ascii_lowercase();
            lowered.as_str()
        } else {
            model
        };
        let mut rest = model;
        loop {
            if let Some(found) = self.lookup(rest) {
                return Some(found);
            }
            if let Some(found) =
                resolve::strip_version_suffix(rest).and_then(|base| self.lookup(base))
            {
                return Some(found);
            }
            rest = rest.split_once('/')?.1;
        }
    }

    fn lookup(&self, key: &str) -> Option<PriceMatch<'_>> {
        self.entries.get_key_value(key).map(|(key, entry)| entry.as_match(key))
    }

    /// The cost in USD of a call to `model` ([`PriceTable::resolve`] then
    /// [`Price::cost`]); `None` when the model has no price.
    ///
    /// ```
    /// use llm_trace_core::pricing::{PriceTable, TokenCounts};
    ///
    /// let prices = PriceTable::builtin();
    /// let tokens = TokenCounts::new(1_000_000, 1_000_000);
    /// assert_eq!(prices.cost("gpt-4o", &tokens), Some(12.5));
    /// assert_eq!(prices.cost("no-such-model", &tokens), None);
    /// ```
    pub fn cost(&self, model: &str, tokens: &TokenCounts) -> Option<f64> {
        self.resolve(model).map(|found| found.price.cost(tokens))
    }
}

//! Import of LiteLLM's `model_prices_and_context_window.json`.
//!
//! The file maps model ids to objects with many fields; only these are used:
//!
//! | LiteLLM field                      | [`Price`] field                |
//! |------------------------------------|-------------------------------|
//! | `input_cost_per_token`             | `input`                       |
//! | `output_cost_per_token`            | `output`                      |
//! | `cache_read_input_token_cost`      | `cached_input`                |
//! | `cache_creation_input_token_cost`  | `cache_write`                 |
//! | `litellm_provider`                 | the provider                  |
//! | `mode`                             | see below                     |
//!
//! LiteLLM prices are USD per token; they are converted to USD per million
//! tokens with [`per_token_to_per_million`], which is exact in decimal
//! (`2.5e-06` becomes exactly `2.5`).
//!
//! Entries are kept only when they are priced per token: an entry needs
//! `input_cost_per_token`, and `output_cost_per_token` unless its `mode` is
//! `"embedding"` (embedding entries often omit it; output is then 0). Entries
//! priced per image, pixel, second, page or query are skipped, and so is the
//! `sample_spec` pseudo-entry. Ids are kept as they are (`gemini/gemini-2.5-pro`,
//! `azure/gpt-4o`, ...); [`PriceTable::resolve`](super::PriceTable::resolve)
//! tries such prefixed keys before stripping the prefix from the requested id.
//! Ids that differ only in case keep the last one.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::parse::{CurrentModel, describe, run_seed};
use super::{Entry, Price, PriceError, PriceTable};

/// Parses a LiteLLM price file (already known to be valid JSON).
pub(super) fn parse(json: &str, source_name: &str) -> Result<PriceTable, PriceError> {
    let current = CurrentModel::default();
    run_seed(json, source_name, &current, LiteLlmFile { current: &current })
}

/// Converts a price in USD per token to USD per million tokens without
/// binary rounding noise: the figure is shifted by six decimal places in its
/// decimal representation (13 significant digits), then parsed back, so
/// `2.5e-06` gives exactly `2.5` and `1.6e-06` exactly `1.6` (a plain
/// `x * 1e6` gives `1.5999999999999999` for the latter).
pub(super) fn per_token_to_per_million(usd_per_token: f64) -> f64 {
    if usd_per_token == 0.0 || !usd_per_token.is_finite() {
        return usd_per_token * 1e6;
    }
    let decimal = format!("{usd_per_token:.12e}");
    let Some((mantissa, exponent)) = decimal.split_once('e') else {
        return usd_per_token * 1e6;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return usd_per_token * 1e6;
    };
    format!("{mantissa}e{}", exponent + 6).parse().unwrap_or(usd_per_token * 1e6)
}

/// The top-level object.
struct LiteLlmFile<'c> {
    current: &'c CurrentModel,
}

impl<'de> DeserializeSeed<'de> for LiteLlmFile<'_> {
    type Value = PriceTable;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<PriceTable, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LiteLlmFile<'_> {
    type Value = PriceTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a LiteLLM price file: an object mapping model ids to model objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PriceTable, A::Error> {
        let mut entries = HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(id) = map.next_key::<String>()? {
            if id == "sample_spec" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            *self.current.borrow_mut() = Some(id.clone());
            let priced = map.next_value_seed(LiteLlmEntry)?;
            *self.current.borrow_mut() = None;
            if let Some((price, provider)) = priced {
                entries.insert(id.to_ascii_lowercase(), Entry { id, provider, price });
            }
        }
        Ok(PriceTable { entries, checked: None })
    }
}

/// One model object; `None` when it is not priced per token.
struct LiteLlmEntry;

impl<'de> DeserializeSeed<'de> for LiteLlmEntry {
    type Value = Option<(Price, Option<String>)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Reads a LiteLLM cost (USD per token) and converts it to USD per million
/// tokens; `null` counts as absent.
fn cost<'de, A: MapAccess<'de>>(map: &mut A, field: &str) -> Result<Option<f64>, A::Error> {
    let value: Value = map.next_value()?;
    if value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(usd) if usd.is_finite() && usd >= 0.0 => {
            let per_million = per_token_to_per_million(usd);
            if per_million.is_finite() {
                Ok(Some(per_million))
            } else {
                Err(de::Error::custom(format!(
                    "`{field}` of {usd} USD per token is too large to convert to USD per 1M tokens; fix the figure or remove the model"
                )))
            }
        }
        Some(usd) => Err(de::Error::custom(format!(
            "`{field}` must be a cost >= 0 in USD per token, got {usd}; fix the figure or remove the model"
        ))),
        None => Err(de::Error::custom(format!(
            "`{field}` must be a number (USD per token), got {}; fix the figure or remove the model",
            describe(&value)
        ))),
    }
}

impl<'de> Visitor<'de> for LiteLlmEntry {
    type Value = Option<(Price, Option<String>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a LiteLLM model object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut input = None;
        let mut output = None;
        let mut cache_read = None;
        let mut cache_creation = None;
        let mut provider = None;
        let mut mode = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "input_cost_per_token" => input = cost(&mut map, &field)?,
                "output_cost_per_token" => output = cost(&mut map, &field)?,
                "cache_read_input_token_cost" => cache_read = cost(&mut map, &field)?,
                "cache_creation_input_token_cost" => cache_creation = cost(&mut map, &field)?,
                "litellm_provider" => {
                    provider = map.next_value::<Value>()?.as_str().map(str::to_owned);
                }
                "mode" => mode = map.next_value::<Value>()?.as_str().map(str::to_owned),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let Some(input) = input else {
            return Ok(None);
        };
        let output = match output {
            Some(output) => output,
            None if mode.as_deref() == Some("embedding") => 0.0,
            None => return Ok(None),
        };
        let price = Price { input, cached_input: cache_read, cache_write: cache_creation, output };
        Ok(Some((price, provider)))
    }

    // Anything that is not an object is not a priced model: skip it.

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

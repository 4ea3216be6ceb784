//! Loading price files: format detection, the llm-trace format, and the
//! conversion of `serde_json` errors into [`PriceError`]s with file, line and
//! model.
//!
//! Validation happens inside `Deserialize` (hand-written visitors), so that
//! `serde_json` attaches the line and column of the offending value. While an
//! entry is read, the id of its model is kept in a [`CurrentModel`] cell, so
//! that an error can name the model.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;

use super::{Entry, Price, PriceError, PriceTable, litellm};

/// The unit every llm-trace price file must declare (when it declares one).
pub(super) const UNIT: &str = "USD per 1M tokens";

/// The model whose entry is being read, for error messages.
pub(super) type CurrentModel = RefCell<Option<String>>;

/// Parses either format, auto-detected.
pub(super) fn parse_any(json: &str, source_name: &str) -> Result<PriceTable, PriceError> {
    // Editors on Windows may start a UTF-8 file with a byte order mark; JSON has no place for it.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    // First pass: syntax (with line/column) and format detection.
    let value: Value =
        serde_json::from_str(json).map_err(|e| convert_error(&e, source_name, None))?;
    match detect(&value) {
        Some(Format::Own) => parse_own(json, source_name),
        Some(Format::LiteLlm) => litellm::parse(json, source_name),
        None => Err(PriceError::UnknownFormat { source_name: source_name.to_owned() }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Own,
    LiteLlm,
}

/// Own format: a top-level `models` key. LiteLLM: at least one model object
/// with a `*_cost_per_token` key.
fn detect(value: &Value) -> Option<Format> {
    let object = value.as_object()?;
    if object.contains_key("models") {
        return Some(Format::Own);
    }
    let looks_like_litellm = object.iter().any(|(key, entry)| {
        key != "sample_spec"
            && entry
                .as_object()
                .is_some_and(|fields| fields.keys().any(|k| k.ends_with("_cost_per_token")))
    });
    looks_like_litellm.then_some(Format::LiteLlm)
}

/// Runs a seeded deserializer over `json` and converts its error.
pub(super) fn run_seed<'a, S: DeserializeSeed<'a>>(
    json: &'a str,
    source_name: &str,
    current: &CurrentModel,
    seed: S,
) -> Result<S::Value, PriceError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let result =
        seed.deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value));
    result.map_err(|e| convert_error(&e, source_name, current.borrow_mut().take()))
}

fn parse_own(json: &str, source_name: &str) -> Result<PriceTable, PriceError> {
    let current = CurrentModel::default();
    run_seed(json, source_name, &current, OwnFile { current: &current })
}

/// Turns a `serde_json` error into a [`PriceError`]: syntax errors become
/// [`PriceError::Parse`], data errors (from the validating visitors)
/// [`PriceError::Invalid`].
pub(super) fn convert_error(
    error: &serde_json::Error,
    source_name: &str,
    model: Option<String>,
) -> PriceError {
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    let message = if line > 0 {
        full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full).to_owned()
    } else {
        full
    };
    match error.classify() {
        serde_json::error::Category::Data => PriceError::Invalid {
            source_name: source_name.to_owned(),
            model,
            line: (line > 0).then_some(line),
            column: (line > 0).then_some(column),
            message,
        },
        _ => PriceError::Parse { source_name: source_name.to_owned(), line, column, message },
    }
}

/// A short description of a JSON value for error messages.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Reads a price (USD per 1M tokens): a finite JSON number >= 0.
fn price_value<'de, A: MapAccess<'de>>(map: &mut A, field: &str) -> Result<f64, A::Error> {
    let value: Value = map.next_value()?;
    match value.as_f64() {
        Some(price) if price.is_finite() && price >= 0.0 => Ok(price),
        Some(price) => Err(de::Error::custom(format!(
            "`{field}` must be a price >= 0 in USD per 1M tokens, got {price}; fix the figure"
        ))),
        None => Err(de::Error::custom(format!(
            "`{field}` must be a number (USD per 1M tokens), got {}; write it as a plain JSON number such as 2.5",
            describe(&value)
        ))),
    }
}

/// Reads an optional price: `null` counts as absent.
fn optional_price_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    field: &str,
) -> Result<Option<f64>, A::Error> {
    let value: Value = map.next_value()?;
    if value.is_null() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(price) if price.is_finite() && price >= 0.0 => Ok(Some(price)),
        Some(price) => Err(de::Error::custom(format!(
            "`{field}` must be a price >= 0 in USD per 1M tokens, got {price}; fix the figure or remove the field"
        ))),
        None => Err(de::Error::custom(format!(
            "`{field}` must be a number (USD per 1M tokens) or null, got {}; write it as a plain JSON number such as 1.25",
            describe(&value)
        ))),
    }
}

fn duplicate<E: de::Error>(field: &str) -> E {
    E::custom(format!("`{field}` appears twice; keep one"))
}

/// Whether `s` is a plausible `YYYY-MM-DD` date.
pub(super) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// The top level of an llm-trace price file.
struct OwnFile<'c> {
    current: &'c CurrentModel,
}

impl<'de> DeserializeSeed<'de> for OwnFile<'_> {
    type Value = PriceTable;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<PriceTable, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OwnFile<'_> {
    type Value = PriceTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an llm-trace price file: an object with \"checked\", \"unit\", \"source\" and \"models\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PriceTable, A::Error> {
        let mut checked: Option<Option<String>> = None;
        let mut unit_seen = false;
        let mut source_seen = false;
        let mut models: Option<HashMap<String, Entry>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "checked" => {
                    if checked.is_some() {
                        return Err(duplicate("checked"));
                    }
                    checked = Some(match map.next_value::<Value>()? {
                        Value::Null => None,
                        Value::String(date) if is_date(&date) => Some(date),
                        other => {
                            return Err(de::Error::custom(format!(
                                "`checked` must be the date the prices were checked, written YYYY-MM-DD, got {}",
                                describe(&other)
                            )));
                        }
                    });
                }
                "unit" => {
                    if unit_seen {
                        return Err(duplicate("unit"));
                    }
                    unit_seen = true;
                    let value: Value = map.next_value()?;
                    if value.as_str() != Some(UNIT) {
                        return Err(de::Error::custom(format!(
                            "`unit` must be {UNIT:?}, got {}; convert the prices to USD per one million tokens or remove the field",
                            describe(&value)
                        )));
                    }
                }
                "source" => {
                    if source_seen {
                        return Err(duplicate("source"));
                    }
                    source_seen = true;
                    let value: Value = map.next_value()?;
                    if !(value.is_string() || value.is_null()) {
                        return Err(de::Error::custom(format!(
                            "`source` must be a string saying where the prices come from, got {}",
                            describe(&value)
                        )));
                    }
                }
                "models" => {
                    if models.is_some() {
                        return Err(duplicate("models"));
                    }
                    models = Some(map.next_value_seed(OwnModels { current: self.current })?);
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown top-level field `{other}`; the allowed fields are `checked`, `unit`, `source` and `models`"
                    )));
                }
            }
        }
        let entries = models.ok_or_else(|| {
            de::Error::custom("missing `models`: add an object mapping model ids to prices")
        })?;
        Ok(PriceTable { entries, checked: checked.flatten() })
    }
}

/// The `models` object: model id -> entry.
struct OwnModels<'c> {
    current: &'c CurrentModel,
}

impl<'de> DeserializeSeed<'de> for OwnModels<'_> {
    type Value = HashMap<String, Entry>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OwnModels<'_> {
    type Value = HashMap<String, Entry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`models`: an object mapping model ids to prices")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(id) = map.next_key::<String>()? {
            *self.current.borrow_mut() = Some(id.clone());
            if id.is_empty() || id.trim() != id {
                return Err(de::Error::custom(
                    "model ids must be non-empty and have no surrounding spaces; fix the key",
                ));
            }
            let key = id.to_ascii_lowercase();
            if entries.contains_key(&key) {
                return Err(de::Error::custom(
                    "this model is listed twice (model ids are case-insensitive); keep one entry",
                ));
            }
            let (price, provider) = map.next_value_seed(OwnEntry)?;
            entries.insert(key, Entry { id, provider, price });
            *self.current.borrow_mut() = None;
        }
        Ok(entries)
    }
}

/// One model entry: `{ "provider": ..., "input": ..., "cached_input": ...,
/// "cache_write": ..., "output": ... }`.
struct OwnEntry;

impl<'de> DeserializeSeed<'de> for OwnEntry {
    type Value = (Price, Option<String>);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OwnEntry {
    type Value = (Price, Option<String>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a price object such as { \"input\": 2.5, \"output\": 10.0 }")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut provider: Option<Option<String>> = None;
        let mut input = None;
        let mut output = None;
        let mut cached_input: Option<Option<f64>> = None;
        let mut cache_write: Option<Option<f64>> = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "provider" => {
                    if provider.is_some() {
                        return Err(duplicate("provider"));
                    }
                    provider = Some(match map.next_value::<Value>()? {
                        Value::Null => None,
                        Value::String(name) => Some(name),
                        other => {
                            return Err(de::Error::custom(format!(
                                "`provider` must be a string such as \"openai\", got {}",
                                describe(&other)
                            )));
                        }
                    });
                }
                "input" => {
                    if input.is_some() {
                        return Err(duplicate("input"));
                    }
                    input = Some(price_value(&mut map, "input")?);
                }
                "output" => {
                    if output.is_some() {
                        return Err(duplicate("output"));
                    }
                    output = Some(price_value(&mut map, "output")?);
                }
                "cached_input" => {
                    if cached_input.is_some() {
                        return Err(duplicate("cached_input"));
                    }
                    cached_input = Some(optional_price_value(&mut map, "cached_input")?);
                }
                "cache_write" => {
                    if cache_write.is_some() {
                        return Err(duplicate("cache_write"));
                    }
                    cache_write = Some(optional_price_value(&mut map, "cache_write")?);
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown field `{other}`; the allowed fields are `provider`, `input`, `cached_input`, `cache_write` and `output`"
                    )));
                }
            }
        }
        let input = input.ok_or_else(|| {
            de::Error::custom(
                "missing `input`: add the price of prompt tokens in USD per 1M tokens",
            )
        })?;
        let output = output.ok_or_else(|| {
            de::Error::custom(
                "missing `output`: add the price of completion tokens in USD per 1M tokens (0 for embedding models)",
            )
        })?;
        let price = Price {
            input,
            cached_input: cached_input.flatten(),
            cache_write: cache_write.flatten(),
            output,
        };
        Ok((price, provider.flatten()))
    }
}

//! `POST /v1/embeddings`.

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::respond::{self, BodyPlan, Invalid};
use crate::script::Outcome;
use crate::text;

/// The vector size when the request has no `dimensions`.
pub(crate) const DEFAULT_DIMENSIONS: usize = 1536;

/// The largest `dimensions` accepted.
const MAX_DIMENSIONS: u64 = 16_384;

/// One input of an embeddings request.
enum Input<'a> {
    Text(&'a str),
    Tokens(Vec<u64>),
}

/// Handles a parsed embeddings request.
pub(crate) fn respond(body: &Value, outcome: &Outcome) -> Response<Body> {
    match build(body) {
        Ok(value) => {
            let bytes = serde_json::to_vec(&value).unwrap_or_default();
            match BodyPlan::json_fault(&bytes, outcome) {
                Some(plan) => respond::planned("application/json", plan),
                None => respond::json(StatusCode::OK, &value),
            }
        }
        Err(invalid) => invalid.into_response(),
    }
}

fn invalid_input() -> Invalid {
    Invalid::new(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        None,
        None,
    )
}

fn build(body: &Value) -> Result<Value, Invalid> {
    let Some(obj) = body.as_object() else {
        return Err(Invalid::new(
            "Invalid type for request body: expected an object.",
            None,
            Some("invalid_type"),
        ));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.as_str(),
        _ => {
            return Err(Invalid::new("you must provide a model parameter", None, None));
        }
    };
    let inputs = match obj.get("input") {
        None | Some(Value::Null) => {
            return Err(Invalid::new(
                "Missing required parameter: 'input'.",
                Some("input"),
                Some("missing_required_parameter"),
            ));
        }
        Some(v) => parse_inputs(v).ok_or_else(invalid_input)?,
    };
    let dimensions = match obj.get("dimensions") {
        None | Some(Value::Null) => DEFAULT_DIMENSIONS,
        Some(v) => match v.as_u64() {
            Some(d) if (1..=MAX_DIMENSIONS).contains(&d) => d as usize,
            _ => {
                return Err(Invalid::new(
                    format!("Invalid 'dimensions': expected an integer in 1..={MAX_DIMENSIONS}."),
                    Some("dimensions"),
                    Some("invalid_value"),
                ));
            }
        },
    };
    let base64 = match obj.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => {
            return Err(Invalid::new(
                "Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                Some("encoding_format"),
                Some("invalid_value"),
            ));
        }
    };

    let mut data = Vec::with_capacity(inputs.len());
    let mut prompt_tokens: u32 = 0;
    for (index, input) in inputs.iter().enumerate() {
        let (seed, tokens) = match input {
            Input::Text(t) => (hash(t.as_bytes()), text::estimate(t).max(1)),
            Input::Tokens(ids) => {
                let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
                (hash(&bytes) ^ 0x746f_6b65_6e73, u32::try_from(ids.len()).unwrap_or(u32::MAX))
            }
        };
        prompt_tokens = prompt_tokens.saturating_add(tokens);
        let vector = unit_vector(seed, dimensions);
        let embedding = if base64 {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            json!(respond::base64(&bytes))
        } else {
            json!(vector)
        };
        data.push(json!({ "object": "embedding", "index": index, "embedding": embedding }));
    }
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens },
    }))
}

/// A string, an array of strings, an array of token ids or an array of
/// arrays of token ids; nothing empty.
fn parse_inputs(v: &Value) -> Option<Vec<Input<'_>>> {
    match v {
        Value::String(s) if !s.is_empty() => Some(vec![Input::Text(s)]),
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(Value::is_string) {
                items
                    .iter()
                    .map(|i| i.as_str().filter(|s| !s.is_empty()).map(Input::Text))
                    .collect()
            } else if items.iter().all(Value::is_u64) {
                Some(vec![Input::Tokens(items.iter().filter_map(Value::as_u64).collect())])
            } else {
                items
                    .iter()
                    .map(|i| {
                        let ids: Vec<u64> = i
                            .as_array()
                            .filter(|a| !a.is_empty())?
                            .iter()
                            .map(Value::as_u64)
                            .collect::<Option<_>>()?;
                        Some(Input::Tokens(ids))
                    })
                    .collect()
            }
        }
        _ => None,
    }
}

/// FNV-1a, 64 bits.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A deterministic unit-norm vector of `dims` components seeded by `seed`
/// (SplitMix64 draws in `[-1, 1)`, normalised).
pub(crate) fn unit_vector(seed: u64, dims: usize) -> Vec<f32> {
    let mut state = seed;
    let mut raw: Vec<f64> = (0..dims)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        raw.iter_mut().for_each(|x| *x /= norm);
    }
    raw.into_iter().map(|x| x as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let a = unit_vector(hash(b"hello"), 64);
        assert_eq!(a, unit_vector(hash(b"hello"), 64));
        assert_ne!(a, unit_vector(hash(b"hellp"), 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn inputs() {
        assert!(parse_inputs(&json!("")).is_none());
        assert!(parse_inputs(&json!([])).is_none());
        assert!(parse_inputs(&json!(["a", ""])).is_none());
        assert_eq!(parse_inputs(&json!(["a", "b"])).unwrap().len(), 2);
        assert_eq!(parse_inputs(&json!([1, 2, 3])).unwrap().len(), 1);
        assert_eq!(parse_inputs(&json!([[1], [2, 3]])).unwrap().len(), 2);
        assert!(parse_inputs(&json!([[1], "a"])).is_none());
    }
}

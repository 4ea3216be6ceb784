//! The error type of the pricing module.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Why a price file could not be loaded.
///
/// Every variant names the file (`source_name` is the path for files and the
/// caller-chosen name for [`PriceTable::from_json_str`](super::PriceTable::from_json_str)),
/// and the messages say what to fix.
///
/// ```
/// use llm_trace_core::pricing::{PriceError, PriceTable};
///
/// let json = r#"{ "models": { "my-model": { "input": -1, "output": 2 } } }"#;
/// let err = PriceTable::from_json_str(json, "prices.json").unwrap_err();
/// assert!(matches!(err, PriceError::Invalid { .. }));
/// assert!(err.to_string().contains("prices.json"));
/// assert!(err.to_string().contains("my-model"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// The file could not be read.
    #[error(
        "cannot read price file {}: {source}; check that the path is right and the file is readable",
        path.display()
    )]
    Io {
        /// The path that was read.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The file is not valid JSON.
    #[error(
        "price file {source_name}: line {line}, column {column}: {message} (the file is not valid JSON; fix the syntax at that position)"
    )]
    Parse {
        /// The file (or name) the text came from.
        source_name: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },

    /// The file is valid JSON but an entry is wrong: a negative or
    /// non-numeric price, a missing `input`/`output`, an unknown field, a
    /// duplicated model, a malformed `checked` date, ...
    #[error("price file {source_name}: {}{message}", location(.line, .column, .model))]
    Invalid {
        /// The file (or name) the text came from.
        source_name: String,
        /// The model whose entry is wrong, if the problem is inside a model entry.
        model: Option<String>,
        /// 1-based line where the problem was detected, when known.
        line: Option<usize>,
        /// 1-based column where the problem was detected, when known.
        column: Option<usize>,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The JSON is neither an llm-trace price file nor a LiteLLM price file.
    #[error(
        "price file {source_name}: unknown format: expected either an llm-trace price file (an object with a top-level \"models\" object) or LiteLLM's model_prices_and_context_window.json (model objects with \"input_cost_per_token\"/\"output_cost_per_token\")"
    )]
    UnknownFormat {
        /// The file (or name) the text came from.
        source_name: String,
    },
}

/// `line L, column C: model "m": ` — whichever parts are known.
fn location(line: &Option<usize>, column: &Option<usize>, model: &Option<String>) -> String {
    let mut out = String::new();
    match (line, column) {
        (Some(line), Some(column)) => {
            let _ = write!(out, "line {line}, column {column}: ");
        }
        (Some(line), None) => {
            let _ = write!(out, "line {line}: ");
        }
        _ => {}
    }
    if let Some(model) = model {
        let _ = write!(out, "model \"{model}\": ");
    }
    out
}

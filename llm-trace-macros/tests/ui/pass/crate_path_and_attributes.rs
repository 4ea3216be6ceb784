//! `crate = path` for crates that re-export llm-trace; attributes, doc comments, inner
//! attributes, raw identifiers, `#[tokio::main]` below the attribute.
#![deny(warnings)]

mod facade {
    pub use llm_trace as tracing_of_llms;
}

use llm_trace::{CallContext, traced_llm};

fn name() -> String {
    CallContext::current().unwrap().function_name().to_owned()
}

#[traced_llm(crate = facade::tracing_of_llms)]
fn through_a_reexport() -> String {
    name()
}

#[traced_llm(crate = "crate::facade::tracing_of_llms")]
async fn through_a_string_path() -> String {
    name()
}

/// Documented.
///
/// ```
/// // rustdoc shows the function as written.
/// ```
#[must_use]
#[inline]
#[traced_llm(tags = ["attrs"])]
#[cfg_attr(all(), allow(clippy::needless_return))]
pub fn with_attributes() -> String {
    #![allow(unused_variables)]
    let unused = 1;
    return name();
}

#[traced_llm]
fn r#match() -> String {
    name()
}

#[traced_llm]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(through_a_reexport(), "through_a_reexport");
    assert_eq!(through_a_string_path().await, "through_a_string_path");
    assert_eq!(with_attributes(), "with_attributes");
    assert_eq!(r#match(), "match");
    assert_eq!(name(), "main");
    tokio::task::yield_now().await;
    assert_eq!(name(), "main");
}

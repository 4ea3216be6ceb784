//! Support for the code `#[traced_llm]` generates. Not a public API: reached through
//! `llm_trace::__private`, and may change in any release.
//!
//! Two places need to pick an implementation by the type of a value known only where the
//! macro expands, without specialization. Both use autoref-based dispatch: the by-value impl
//! is found first when it applies, the by-reference fallback otherwise.
//!
//! * Metadata values: `Serialize` values are stored as JSON, other `Display` values as text.
//!   Call as `MetaValue(&value).__llm_trace_meta()` (by value, not `(&MetaValue(..))`, or the
//!   `Display` impl on the reference would be found first).
//! * Call-site rewriting: `x.chat()` (and `x.embeddings()`) immediately followed by
//!   `.create(..)` / `.create_stream(..)` is passed through [`Rewrite`]. When `x.chat()` is
//!   async-openai's `Chat`, [`ViaTraced`] turns it into the traced wrapper (the same one
//!   `TracedClient::chat` returns); for any other type, [`ViaOriginal`] hands the value back
//!   unchanged, so look-alike types compile and behave exactly as before.

#![allow(missing_docs, unreachable_pub)]

use std::cell::Cell;
use std::fmt::Display;

use serde::Serialize;

pub use crate::__llm_trace_async_fn_output as async_fn_output;
pub use crate::context::{FnScope, InFn, Scope, StaticScope, WithContext};

/// The return type `#[traced_llm]` gives an async fn it rewrites as a plain fn returning its
/// wrapped body: `impl Future<Output = $output>`. Written by a `macro_rules!` of this crate
/// so that the `impl` surely has this crate's edition, 2024, whose `impl Trait` captures
/// every lifetime in scope (the elided ones of `&self` and `&str` arguments included) as an
/// `async fn`'s future does, whatever the edition of the crate the fn is in. (An `impl` the
/// proc macro spans at the user's code has the user's edition: in 2021, error E0700.)
#[doc(hidden)]
#[macro_export]
macro_rules! __llm_trace_async_fn_output {
    ($output:ty) => { impl ::core::future::Future<Output = $output> };
}

/// Holds a value so that trait methods can be probed on it by value first, then by reference.
pub struct Rewrite<T>(Cell<Option<T>>);

impl<T> Rewrite<T> {
    #[inline]
    pub fn new(value: T) -> Rewrite<T> {
        Rewrite(Cell::new(Some(value)))
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.0.into_inner().expect("a rewritten receiver is taken once")
    }

    #[inline]
    pub fn take(&self) -> T {
        self.0.take().expect("a rewritten receiver is taken once")
    }
}

/// Implemented by value for the receivers that have a traced counterpart.
pub trait ViaTraced {
    type Traced;
    fn __llm_trace_rewrite(self) -> Self::Traced;
}

/// The fallback for every other receiver: give the original value back.
pub trait ViaOriginal {
    type Original;
    fn __llm_trace_rewrite(self) -> Self::Original;
}

impl<T> ViaOriginal for &Rewrite<T> {
    type Original = T;
    #[inline]
    fn __llm_trace_rewrite(self) -> T {
        self.take()
    }
}

/// Holds a metadata value while the macro picks how to record it.
pub struct MetaValue<'a, T: ?Sized>(pub &'a T);

pub trait MetaViaSerialize {
    fn __llm_trace_meta(self) -> serde_json::Value;
}

pub trait MetaViaDisplay {
    fn __llm_trace_meta(self) -> serde_json::Value;
}

impl<T: Serialize + ?Sized> MetaViaSerialize for MetaValue<'_, T> {
    fn __llm_trace_meta(self) -> serde_json::Value {
        serde_json::to_value(self.0)
            .unwrap_or_else(|e| serde_json::Value::String(format!("<unserializable: {e}>")))
    }
}

impl<T: Display + ?Sized> MetaViaDisplay for &MetaValue<'_, T> {
    fn __llm_trace_meta(self) -> serde_json::Value {
        serde_json::Value::String(self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OnlyDisplay;
    impl Display for OnlyDisplay {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("shown")
        }
    }

    #[test]
    fn metadata_prefers_serialize_and_falls_back_to_display() {
        #[derive(Serialize)]
        struct Both {
            n: u32,
        }
        impl Display for Both {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("display")
            }
        }
        assert_eq!(MetaValue(&Both { n: 1 }).__llm_trace_meta(), serde_json::json!({"n": 1}));
        assert_eq!(MetaValue(&OnlyDisplay).__llm_trace_meta(), serde_json::json!("shown"));
        assert_eq!(MetaValue(&7u8).__llm_trace_meta(), serde_json::json!(7));
        assert_eq!(MetaValue("s").__llm_trace_meta(), serde_json::json!("s"));
    }

    #[test]
    fn receivers_without_a_traced_counterpart_come_back_unchanged() {
        struct LookAlike(u32);
        let back: LookAlike = Rewrite::new(LookAlike(5)).__llm_trace_rewrite();
        assert_eq!(back.0, 5);
    }
}

//! Trait impls (sync and native async fn), trait default methods, recursion.
#![deny(warnings)]

use llm_trace::{CallContext, traced_llm};

fn path() -> Vec<String> {
    CallContext::current().unwrap().call_path().iter().map(|s| s.to_string()).collect()
}

trait Summarize {
    fn summarize(&self) -> String;

    #[traced_llm]
    fn headline(&self) -> String {
        assert_eq!(path(), ["headline"]);
        self.summarize()
    }

    async fn summarize_async(&self) -> String;
}

struct Doc;

impl Summarize for Doc {
    #[traced_llm]
    fn summarize(&self) -> String {
        assert_eq!(path(), ["headline", "summarize"]);
        "doc".to_owned()
    }

    #[traced_llm]
    async fn summarize_async(&self) -> String {
        assert_eq!(path(), ["summarize_async"]);
        "async doc".to_owned()
    }
}

impl std::fmt::Display for Doc {
    #[traced_llm]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("doc")
    }
}

#[traced_llm]
fn depth(n: usize) -> usize {
    assert_eq!(path().len(), n + 1);
    if n == 3 { n } else { depth(n + 1) }
}

#[traced_llm]
async fn async_depth(n: usize) -> usize {
    assert_eq!(path().len(), n + 1);
    if n == 3 {
        return n;
    }
    Box::pin(async_depth(n + 1)).await
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    assert_eq!(Doc.headline(), "doc");
    assert_eq!(block_on(Doc.summarize_async()), "async doc");
    assert_eq!(Doc.to_string(), "doc");
    assert_eq!(depth(0), 3);
    assert_eq!(block_on(async_depth(0)), 3);
}

//! Plain sync and async fns, every argument, nesting.
#![deny(warnings)]

use llm_trace::{CallContext, traced_llm};

fn context() -> std::sync::Arc<CallContext> {
    CallContext::current().expect("inside an annotated fn")
}

#[derive(serde::Serialize)]
struct Ticket {
    id: u32,
}

/// Doc comments stay on the function.
#[traced_llm(
    name = "triage",
    tags = ["support", "billing"],
    metadata(ticket = ticket, words = text.split(' ').count(), shown = std::path::Path::new("/a").display()),
    session = format!("ticket-{}", ticket.id),
    rewrite = false,
    crate = ::llm_trace,
)]
fn every_argument(ticket: &Ticket, text: &str) -> usize {
    let ctx = context();
    assert_eq!(ctx.function_name(), "triage");
    assert_eq!(ctx.module_path(), module_path!());
    assert_eq!(ctx.tags(), ["support", "billing"]);
    assert_eq!(ctx.metadata().get("ticket"), Some(&serde_json::json!({"id": 4})));
    assert_eq!(ctx.metadata().get("words"), Some(&serde_json::json!(2)));
    assert_eq!(ctx.metadata().get("shown"), Some(&serde_json::json!("/a")));
    assert_eq!(ctx.session().map(|s| &**s), Some("ticket-4"));
    nested_sync();
    text.len()
}

#[traced_llm(tags = ["inner"])]
fn nested_sync() {
    assert_eq!(context().call_path(), ["triage", "nested_sync"]);
    assert_eq!(context().tags(), ["support", "billing", "inner"]);
}

#[traced_llm]
async fn outer_async() -> u32 {
    let n = inner_async().await;
    assert_eq!(context().function_name(), "outer_async");
    n
}

#[traced_llm]
async fn inner_async() -> u32 {
    std::future::ready(()).await;
    assert_eq!(context().call_path(), ["outer_async", "inner_async"]);
    7
}

#[traced_llm]
fn unit() {}

#[traced_llm]
async fn unit_async() {}

#[traced_llm]
async fn never_returns() -> ! {
    panic!("never polled")
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
    assert_eq!(every_argument(&Ticket { id: 4 }, "two words"), 9);
    assert_eq!(block_on(outer_async()), 7);
    unit();
    block_on(unit_async());
    let _never = never_returns();
    assert!(CallContext::current().is_none());
}

//! `#[traced_llm]`: calls made inside annotated functions carry the function's name, module,
//! tags, metadata and session, and the call path of the annotated functions around them, for
//! every shape of function, across `.await`, interleaved tasks, spawned tasks and panics.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use llm_trace::sink::MemorySink;
use llm_trace::{CallContext, FinishReason, LlmContextExt as _, LlmTrace, Tracer, traced_llm};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Harness

/// Runs `f` with a fresh tracer as this thread's default; returns the traces it recorded.
fn traces_of(f: impl FnOnce(&Tracer)) -> Vec<LlmTrace> {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(memory.clone()).build().unwrap();
    {
        let _default = tracer.set_default();
        f(&tracer);
    }
    tracer.flush().unwrap();
    memory.take()
}

/// The one trace `f` recorded.
fn only_trace_of(f: impl FnOnce(&Tracer)) -> LlmTrace {
    let mut traces = traces_of(f);
    assert_eq!(traces.len(), 1, "exactly one trace: {traces:#?}");
    traces.remove(0)
}

/// "The LLM call": recorded through the manual API with whatever context is current.
fn llm_call(model: &str) {
    llm_trace::call("test", "chat", model).finish(FinishReason::Stop);
}

fn path(trace: &LlmTrace) -> Vec<&str> {
    trace.call_path.iter().map(|s| &**s).collect()
}

fn tags(trace: &LlmTrace) -> Vec<&str> {
    trace.tags.iter().map(|s| &**s).collect()
}

fn models(traces: &[LlmTrace]) -> Vec<&str> {
    traces.iter().map(|t| &*t.model).collect()
}

fn by_model<'a>(traces: &'a [LlmTrace], model: &str) -> &'a LlmTrace {
    traces.iter().find(|t| &*t.model == model).unwrap_or_else(|| panic!("no trace {model}"))
}

fn current_name() -> Option<String> {
    CallContext::current().map(|c| c.function_name().to_owned())
}

/// The smallest executor: polls with a no-op waker until ready (no tokio involved).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A tokio runtime on this thread.
fn tokio_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

/// Pending once, then ready: hands control to whatever else the executor polls.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

// ---------------------------------------------------------------------------------------------
// Names, tags, metadata, session

#[traced_llm]
fn classify_ticket() {
    llm_call("m");
}

#[test]
fn function_name_and_module_come_from_the_annotated_fn() {
    let trace = only_trace_of(|_| classify_ticket());
    assert_eq!(trace.function_name, "classify_ticket");
    assert_eq!(trace.module_path, "macro_context");
    assert_eq!(path(&trace), ["classify_ticket"]);
    assert!(trace.tags.is_empty());
    assert!(trace.metadata.is_empty());
}

#[test]
fn calls_outside_any_annotated_fn_are_unknown() {
    let traces = traces_of(|_| {
        classify_ticket();
        llm_call("outside");
    });
    let outside = by_model(&traces, "outside");
    assert_eq!(outside.function_name, "unknown");
    assert_eq!(outside.module_path, "unknown");
    assert!(outside.call_path.is_empty());
}

#[traced_llm(name = "triage", tags = ["support", "billing"])]
fn renamed_and_tagged() {
    llm_call("m");
}

#[test]
fn name_overrides_the_ident_and_tags_are_recorded() {
    let trace = only_trace_of(|_| renamed_and_tagged());
    assert_eq!(trace.function_name, "triage");
    assert_eq!(path(&trace), ["triage"]);
    assert_eq!(tags(&trace), ["support", "billing"]);
}

#[derive(serde::Serialize)]
struct Ticket {
    id: u32,
    priority: &'static str,
}

/// Display only: recorded as its text.
struct Customer(String);

impl fmt::Display for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "customer {}", self.0)
    }
}

/// Serialize and Display: recorded as JSON.
#[derive(serde::Serialize)]
struct Both {
    n: u8,
}

impl fmt::Display for Both {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("both as text")
    }
}

#[traced_llm(metadata(
    ticket = ticket,
    customer = Customer(name.to_uppercase()),
    name_len = name.len(),
    both = Both { n: 2 },
    "literal-key" = "text",
))]
fn with_metadata(ticket: &Ticket, name: &str) -> usize {
    llm_call("m");
    name.len() + ticket.id as usize
}

#[test]
fn metadata_serializes_values_or_displays_them_and_sees_the_arguments() {
    let ticket = Ticket { id: 7, priority: "high" };
    let trace = only_trace_of(|_| assert_eq!(with_metadata(&ticket, "alice"), 12));
    let meta = &trace.metadata;
    assert_eq!(meta.get("ticket"), Some(&json!({"id": 7, "priority": "high"})));
    assert_eq!(meta.get("customer"), Some(&json!("customer ALICE")));
    assert_eq!(meta.get("name_len"), Some(&json!(5)));
    assert_eq!(meta.get("both"), Some(&json!({"n": 2})));
    assert_eq!(meta.get("literal-key"), Some(&json!("text")));
}

#[traced_llm(metadata(attempt = attempt))]
fn metadata_is_evaluated_at_entry(attempt: &mut u32) {
    *attempt += 1;
    llm_call("m");
}

#[test]
fn metadata_is_evaluated_when_the_fn_is_entered() {
    let mut attempt = 1;
    let trace = only_trace_of(|_| metadata_is_evaluated_at_entry(&mut attempt));
    assert_eq!(attempt, 2);
    assert_eq!(trace.metadata.get("attempt"), Some(&json!(1)));
}

#[traced_llm(session = format!("user-{user}"), metadata(level = "outer"))]
fn session_outer(user: u32) {
    llm_call("outer");
    session_inner();
}

#[traced_llm(metadata(level = "inner"))]
fn session_inner() {
    llm_call("inner");
}

#[traced_llm(session = "explicit")]
fn session_override_of_override() {
    llm_call("explicit");
}

#[test]
fn session_overrides_the_tracer_session_for_everything_inside() {
    let mut tracer_session = String::new();
    let traces = traces_of(|tracer| {
        tracer_session = tracer.session_id().to_string();
        session_outer(7);
        session_override_of_override();
        classify_ticket();
    });
    assert_eq!(&*by_model(&traces, "outer").session_id, "user-7");
    let inner = by_model(&traces, "inner");
    assert_eq!(&*inner.session_id, "user-7");
    assert_eq!(inner.metadata.get("level"), Some(&json!("inner")), "inner wins on equal keys");
    assert_eq!(&*by_model(&traces, "explicit").session_id, "explicit");
    assert_eq!(&*by_model(&traces, "m").session_id, tracer_session);
}

// ---------------------------------------------------------------------------------------------
// Nesting

#[traced_llm(tags = ["a", "b"], metadata(outer = true))]
fn sync_outer() {
    llm_call("outer-before");
    sync_inner();
    llm_call("outer-after");
}

#[traced_llm(tags = ["b", "c"], metadata(inner = 1))]
fn sync_inner() {
    llm_call("inner");
}

#[test]
fn nested_sync_fns_build_the_call_path_and_union_their_tags() {
    let traces = traces_of(|_| sync_outer());
    assert_eq!(models(&traces), ["outer-before", "inner", "outer-after"]);
    let inner = by_model(&traces, "inner");
    assert_eq!(inner.function_name, "sync_inner");
    assert_eq!(path(inner), ["sync_outer", "sync_inner"]);
    assert_eq!(tags(inner), ["a", "b", "c"]);
    assert_eq!(inner.metadata.get("outer"), Some(&json!(true)));
    assert_eq!(inner.metadata.get("inner"), Some(&json!(1)));
    for outer in [by_model(&traces, "outer-before"), by_model(&traces, "outer-after")] {
        assert_eq!(outer.function_name, "sync_outer");
        assert_eq!(path(outer), ["sync_outer"]);
        assert_eq!(tags(outer), ["a", "b"]);
    }
}

#[traced_llm(tags = ["outer"])]
async fn async_outer() -> u32 {
    llm_call("outer");
    let n = async_inner().await;
    sync_from_async();
    llm_call("outer-after");
    n
}

#[traced_llm(tags = ["inner"])]
async fn async_inner() -> u32 {
    yield_now().await;
    llm_call("async-inner");
    yield_now().await;
    41
}

#[traced_llm(tags = ["sync"])]
fn sync_from_async() {
    llm_call("sync-inner");
}

/// Records a call when dropped: shows where, and in which context, a value is dropped.
struct RecordOnDrop(&'static str);

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        llm_call(self.0);
    }
}

struct Owned(#[allow(dead_code)] RecordOnDrop);

impl Owned {
    /// Every kind of argument an `async fn` takes, none of them used but `a` and `n`.
    #[traced_llm]
    async fn consume(
        self,
        _unused: RecordOnDrop,
        (a, _b): (u32, RecordOnDrop),
        mut n: u32,
        _: RecordOnDrop,
    ) -> u32 {
        yield_now().await;
        n += a;
        n
    }
}

#[test]
fn an_async_fns_arguments_live_in_its_future_and_are_dropped_in_its_context() {
    let traces = traces_of(|_| {
        let future = Owned(RecordOnDrop("self")).consume(
            RecordOnDrop("unused"),
            (1, RecordOnDrop("pattern")),
            2,
            RecordOnDrop("wildcard"),
        );
        llm_call("built"); // nothing dropped yet: the future holds every argument
        assert_eq!(block_on(future), 3);
    });
    assert_eq!(models(&traces)[0], "built");
    let mut dropped: Vec<&str> = traces[1..].iter().map(|t| &*t.model).collect();
    dropped.sort_unstable();
    assert_eq!(dropped, ["pattern", "self", "unused", "wildcard"]);
    for trace in &traces[1..] {
        assert_eq!(trace.function_name, "consume", "{} is dropped inside the fn", trace.model);
    }
}

#[test]
fn nested_async_and_sync_fns_build_the_call_path_across_awaits() {
    let traces = traces_of(|_| assert_eq!(block_on(async_outer()), 41));
    assert_eq!(models(&traces), ["outer", "async-inner", "sync-inner", "outer-after"]);
    let inner = by_model(&traces, "async-inner");
    assert_eq!(inner.function_name, "async_inner");
    assert_eq!(path(inner), ["async_outer", "async_inner"]);
    assert_eq!(tags(inner), ["outer", "inner"]);
    let sync = by_model(&traces, "sync-inner");
    assert_eq!(path(sync), ["async_outer", "sync_from_async"]);
    assert_eq!(tags(sync), ["outer", "sync"]);
    assert_eq!(path(by_model(&traces, "outer-after")), ["async_outer"]);
}

#[test]
fn the_context_is_left_between_polls() {
    let fut = async_inner();
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(current_name(), None, "the context leaked out of a pending poll");
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(current_name(), None);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(41));
}

#[traced_llm]
fn countdown(n: u32) -> u32 {
    llm_call(&format!("sync-{n}"));
    if n == 0 { 0 } else { 1 + countdown(n - 1) }
}

#[traced_llm]
async fn async_countdown(n: u32) -> u32 {
    llm_call(&format!("async-{n}"));
    if n == 0 {
        return 0;
    }
    yield_now().await;
    1 + Box::pin(async_countdown(n - 1)).await
}

#[test]
fn recursion_grows_the_call_path() {
    let traces = traces_of(|_| {
        assert_eq!(countdown(2), 2);
        assert_eq!(block_on(async_countdown(2)), 2);
    });
    for kind in ["sync", "async"] {
        let name = if kind == "sync" { "countdown" } else { "async_countdown" };
        assert_eq!(path(by_model(&traces, &format!("{kind}-2"))), [name]);
        assert_eq!(path(by_model(&traces, &format!("{kind}-1"))), [name, name]);
        assert_eq!(path(by_model(&traces, &format!("{kind}-0"))), [name, name, name]);
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes of functions

struct Agent {
    name: String,
    calls: u32,
}

impl Agent {
    #[traced_llm(metadata(agent = self.name))]
    fn by_ref(&self) -> &str {
        llm_call("by_ref");
        &self.name
    }

    #[traced_llm]
    fn by_mut(&mut self) -> u32 {
        llm_call("by_mut");
        self.calls += 1;
        self.calls
    }

    #[traced_llm]
    fn by_value(self) -> String {
        llm_call("by_value");
        self.name
    }

    #[traced_llm(metadata(agent = self.name))]
    async fn async_by_mut(&mut self) -> u32 {
        yield_now().await;
        llm_call("async_by_mut");
        self.calls += 10;
        self.calls
    }

    #[traced_llm]
    async fn new_async(name: &str) -> Self {
        llm_call("new_async");
        Agent { name: name.to_owned(), calls: 0 }
    }

    #[traced_llm]
    #[allow(clippy::boxed_local, reason = "the receiver shape is what is tested")]
    fn boxed(self: Box<Self>) -> u32 {
        llm_call("boxed");
        self.calls
    }
}

#[test]
fn methods_with_every_receiver() {
    let traces = traces_of(|_| {
        let mut agent = block_on(Agent::new_async("ada"));
        assert_eq!(agent.by_ref(), "ada");
        assert_eq!(agent.by_mut(), 1);
        assert_eq!(block_on(agent.async_by_mut()), 11);
        assert_eq!(Box::new(Agent { name: "b".into(), calls: 3 }).boxed(), 3);
        assert_eq!(agent.by_value(), "ada");
    });
    assert_eq!(
        models(&traces),
        ["new_async", "by_ref", "by_mut", "async_by_mut", "boxed", "by_value"]
    );
    for trace in &traces {
        assert_eq!(trace.function_name, trace.model.as_ref());
    }
    assert_eq!(by_model(&traces, "by_ref").metadata.get("agent"), Some(&json!("ada")));
    assert_eq!(by_model(&traces, "async_by_mut").metadata.get("agent"), Some(&json!("ada")));
}

#[traced_llm(tags = ["generic"])]
fn find<'a, T, K: ?Sized>(items: &'a [T], key: &K) -> Option<&'a T>
where
    T: PartialEq<K>,
{
    llm_call("find");
    items.iter().find(|item| *item == key)
}

#[traced_llm]
async fn async_find<'a, T: PartialEq + Sync>(items: &'a [T], key: &T) -> Option<&'a T> {
    yield_now().await;
    llm_call("async_find");
    items.iter().find(|item| *item == key)
}

#[traced_llm]
fn describe(x: impl fmt::Display, mut out: impl FnMut(String)) -> impl fmt::Display {
    llm_call("describe");
    out(x.to_string());
    format!("<{x}>")
}

#[traced_llm]
async fn async_describe(x: impl fmt::Display + Send) -> impl fmt::Display {
    yield_now().await;
    llm_call("async_describe");
    format!("<{x}>")
}

#[traced_llm]
async fn evens(limit: u32) -> Result<impl Iterator<Item = u32>, String> {
    llm_call("evens");
    Ok((0..limit).filter(|n| n % 2 == 0))
}

#[test]
fn generics_lifetimes_where_clauses_and_impl_trait() {
    let traces = traces_of(|_| {
        let words = [String::from("a"), String::from("b")];
        assert_eq!(find(&words, "b"), Some(&words[1]));
        assert_eq!(block_on(async_find(&[1, 2, 3], &2)), Some(&2));
        let mut seen = Vec::new();
        assert_eq!(describe(5, |s| seen.push(s)).to_string(), "<5>");
        assert_eq!(seen, ["5"]);
        assert_eq!(block_on(async_describe('x')).to_string(), "<x>");
        assert_eq!(block_on(evens(5)).unwrap().collect::<Vec<_>>(), [0, 2, 4]);
    });
    assert_eq!(models(&traces), ["find", "async_find", "describe", "async_describe", "evens"]);
    for trace in &traces {
        assert_eq!(trace.function_name, trace.model.as_ref());
    }
    assert_eq!(tags(&traces[0]), ["generic"]);
}

struct Stack<T>(Vec<T>);

impl<T: Clone> Stack<T> {
    // Each annotated fn keeps its scope in a `static`: one per fn, shared by every
    // instantiation of the generic impl (a static cannot depend on `T`, and needs not).
    #[traced_llm(tags = ["stack"])]
    fn peek(&self) -> Option<T> {
        llm_call(std::any::type_name::<T>());
        self.0.last().cloned()
    }
}

#[traced_llm(tags = ["caller"])]
fn peek_from_caller(stack: &Stack<u16>) -> Option<u16> {
    stack.peek()
}

#[test]
fn methods_of_generic_types_in_every_instantiation() {
    let traces = traces_of(|_| {
        assert_eq!(Stack(vec![1u8, 2]).peek(), Some(2));
        assert_eq!(Stack(vec![String::from("a")]).peek().as_deref(), Some("a"));
        // Inside another annotated fn, the same static scope is a nested entry.
        assert_eq!(peek_from_caller(&Stack(vec![3u16])), Some(3));
        assert_eq!(Stack(vec![4u8]).peek(), Some(4));
    });
    assert_eq!(models(&traces), ["u8", "alloc::string::String", "u16", "u8"]);
    for outermost in [&traces[0], &traces[1], &traces[3]] {
        assert_eq!((path(outermost), tags(outermost)), (vec!["peek"], vec!["stack"]));
    }
    assert_eq!(path(&traces[2]), ["peek_from_caller", "peek"]);
    assert_eq!(tags(&traces[2]), ["caller", "stack"]);
}

#[derive(Debug, PartialEq)]
enum AppError {
    Parse(std::num::ParseIntError),
    TooBig,
}

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> AppError {
        AppError::Parse(e)
    }
}

#[traced_llm]
fn parse_sync(s: &str) -> Result<u32, AppError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    llm_call(&format!("sync-{n}"));
    if n > 100 {
        return Err(AppError::TooBig);
    }
    Ok(n)
}

#[traced_llm]
async fn parse_async(s: &str) -> Result<u32, AppError> {
    if s.is_empty() {
        return Ok(0);
    }
    yield_now().await;
    let n: u32 = s.parse()?;
    llm_call(&format!("async-{n}"));
    if n > 100 {
        return Err(AppError::TooBig);
    }
    Ok(n)
}

#[traced_llm]
async fn boxed_error(s: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[test]
fn return_and_question_mark_in_sync_and_async_fns() {
    let traces = traces_of(|_| {
        assert_eq!(parse_sync(""), Ok(0));
        assert_eq!(parse_sync("7"), Ok(7));
        assert!(matches!(parse_sync("x"), Err(AppError::Parse(_))));
        assert_eq!(parse_sync("700"), Err(AppError::TooBig));
        assert_eq!(block_on(parse_async("")), Ok(0));
        assert_eq!(block_on(parse_async("8")), Ok(8));
        assert!(matches!(block_on(parse_async("x")), Err(AppError::Parse(_))));
        assert_eq!(block_on(parse_async("800")), Err(AppError::TooBig));
        assert!(block_on(boxed_error("x")).is_err());
        assert_eq!(current_name(), None, "an early return left the context entered");
    });
    assert_eq!(models(&traces), ["sync-7", "sync-700", "async-8", "async-800"]);
    assert!(traces[..2].iter().all(|t| t.function_name == "parse_sync"));
    assert!(traces[2..].iter().all(|t| t.function_name == "parse_async"));
}

/// # Safety
/// `p` must point to a readable `u32`.
#[allow(unsafe_code)]
#[traced_llm]
unsafe fn read_unsafe(p: *const u32) -> u32 {
    llm_call("unsafe");
    // SAFETY: the caller promises `p` is readable.
    unsafe { *p }
}

/// # Safety
/// `p` must point to a readable `u32` until the future completes.
#[allow(unsafe_code)]
#[traced_llm]
async unsafe fn read_unsafe_async(p: *const u32) -> u32 {
    llm_call("unsafe_async");
    // SAFETY: the caller promises `p` is readable.
    unsafe { *p }
}

#[traced_llm]
extern "C" fn ffi_entry(x: u32) -> u32 {
    llm_call("extern");
    x * 2
}

#[test]
#[allow(unsafe_code)]
fn unsafe_and_extern_fns() {
    let traces = traces_of(|_| {
        let x = 21;
        // SAFETY: `x` is a live u32.
        assert_eq!(unsafe { read_unsafe(&x) }, 21);
        // SAFETY: `x` outlives the future.
        assert_eq!(block_on(unsafe { read_unsafe_async(&x) }), 21);
        let f: extern "C" fn(u32) -> u32 = ffi_entry;
        assert_eq!(f(21), 42);
    });
    assert_eq!(models(&traces), ["unsafe", "unsafe_async", "extern"]);
    assert_eq!(traces[0].function_name, "read_unsafe");
    assert_eq!(traces[1].function_name, "read_unsafe_async");
    assert_eq!(traces[2].function_name, "ffi_entry");
}

trait Summarize {
    fn summarize(&self) -> String;

    #[traced_llm(tags = ["default"])]
    fn headline(&self) -> String {
        llm_call("headline");
        self.summarize().to_uppercase()
    }

    async fn summarize_async(&self) -> String;

    #[traced_llm(tags = ["default"])]
    async fn headline_async(&self) -> String {
        self.summarize_async().await.to_uppercase()
    }
}

struct Doc(&'static str);

impl Summarize for Doc {
    #[traced_llm(tags = ["impl"])]
    fn summarize(&self) -> String {
        llm_call("summarize");
        self.0.to_owned()
    }

    #[traced_llm]
    async fn summarize_async(&self) -> String {
        yield_now().await;
        llm_call("summarize_async");
        self.0.to_owned()
    }
}

#[test]
fn fns_in_trait_impls_and_trait_default_methods() {
    let traces = traces_of(|_| {
        let doc = Doc("report");
        assert_eq!(doc.headline(), "REPORT");
        assert_eq!(block_on(doc.summarize_async()), "report");
        assert_eq!(block_on(doc.headline_async()), "REPORT");
    });
    assert_eq!(models(&traces), ["headline", "summarize", "summarize_async", "summarize_async"]);
    assert_eq!(path(&traces[3]), ["headline_async", "summarize_async"]);
    let summarize = by_model(&traces, "summarize");
    assert_eq!(path(summarize), ["headline", "summarize"]);
    assert_eq!(tags(summarize), ["default", "impl"]);
    assert_eq!(by_model(&traces, "summarize_async").function_name, "summarize_async");
}

macro_rules! traced_fn {
    ($name:ident, $tag:literal, $body:block) => {
        #[traced_llm(tags = [$tag])]
        fn $name() -> u32 $body
    };
}

traced_fn!(made_by_a_macro, "generated", {
    llm_call("made_by_a_macro");
    5
});

#[test]
fn fns_generated_by_macro_rules() {
    let trace = only_trace_of(|_| assert_eq!(made_by_a_macro(), 5));
    assert_eq!(trace.function_name, "made_by_a_macro");
    assert_eq!(tags(&trace), ["generated"]);
}

// ---------------------------------------------------------------------------------------------
// async-trait shapes: the context is entered when the returned future is polled

struct Bot {
    name: &'static str,
}

impl Bot {
    /// What `#[async_trait]` produces, written by hand.
    #[traced_llm(tags = ["bot"], metadata(bot = self.name))]
    fn reply(&self, n: u32) -> Pin<Box<dyn Future<Output = Result<u32, AppError>> + Send + '_>> {
        Box::pin(async move {
            yield_now().await;
            llm_call(&format!("reply-{n}"));
            if n > 100 {
                return Err(AppError::TooBig);
            }
            let parsed: u32 = n.to_string().parse()?;
            Ok(parsed + 1)
        })
    }

    /// An `impl Future` returned by a plain fn.
    #[traced_llm]
    #[allow(clippy::manual_async_fn, reason = "the non-async shape is what is tested")]
    fn later(&self) -> impl Future<Output = &'static str> + '_ {
        async move {
            llm_call("later");
            self.name
        }
    }
}

#[traced_llm]
async fn polls_a_future_built_elsewhere(
    fut: Pin<Box<dyn Future<Output = Result<u32, AppError>> + Send + '_>>,
) -> Result<u32, AppError> {
    fut.await
}

#[test]
fn async_trait_shaped_fns_enter_the_context_when_polled() {
    let bot = Bot { name: "b1" };
    let traces = traces_of(|_| {
        // Built inside an annotated fn: building enters nothing.
        let fut = sync_builder(&bot);
        assert_eq!(current_name(), None);
        // Polled here, outside any annotated fn: the context is the fn's own, parentless.
        assert_eq!(block_on(fut), Ok(2));
        // Polled inside an annotated fn: that fn is the parent.
        assert_eq!(block_on(polls_a_future_built_elsewhere(bot.reply(2))), Ok(3));
        assert_eq!(block_on(bot.reply(101)), Err(AppError::TooBig));
        assert_eq!(block_on(bot.later()), "b1");
    });
    assert_eq!(models(&traces), ["reply-1", "reply-2", "reply-101", "later"]);
    let first = &traces[0];
    assert_eq!(first.function_name, "reply");
    assert_eq!(path(first), ["reply"], "built in sync_builder, but polled outside it");
    assert_eq!(tags(first), ["bot"]);
    assert_eq!(first.metadata.get("bot"), Some(&json!("b1")));
    assert_eq!(path(&traces[1]), ["polls_a_future_built_elsewhere", "reply"]);
    assert_eq!(traces[3].function_name, "later");
}

#[traced_llm(tags = ["builder"])]
fn sync_builder(bot: &Bot) -> Pin<Box<dyn Future<Output = Result<u32, AppError>> + Send + '_>> {
    bot.reply(1)
}

#[async_trait::async_trait]
trait Assistant {
    async fn answer(&self, question: &str) -> Result<String, AppError>;
    async fn count(&mut self) -> u32;
}

#[async_trait::async_trait]
impl Assistant for Bot {
    #[traced_llm(tags = ["assistant"], metadata(question = question))]
    async fn answer(&self, question: &str) -> Result<String, AppError> {
        yield_now().await;
        llm_call("answer");
        let n: u32 = question.len().to_string().parse()?;
        Ok(format!("{}:{n}", self.name))
    }

    #[inline]
    #[traced_llm]
    #[allow(clippy::needless_return)]
    async fn count(&mut self) -> u32 {
        llm_call("count");
        return 3;
    }
}

#[test]
fn real_async_trait_methods_are_traced_when_polled() {
    let mut bot = Bot { name: "b2" };
    let traces = traces_of(|_| {
        let fut = bot.answer("why");
        assert_eq!(current_name(), None);
        assert_eq!(block_on(fut).unwrap(), "b2:3");
        assert_eq!(block_on(bot.count()), 3);
    });
    assert_eq!(models(&traces), ["answer", "count"]);
    assert_eq!(traces[0].function_name, "answer");
    assert_eq!(tags(&traces[0]), ["assistant"]);
    assert_eq!(traces[0].metadata.get("question"), Some(&json!("why")));
    assert_eq!(traces[1].function_name, "count");
}

// ---------------------------------------------------------------------------------------------
// Concurrency, spawned work, panics

#[traced_llm(tags = ["left"])]
async fn left() -> Vec<String> {
    let mut seen = Vec::new();
    for i in 0..2 {
        llm_call(&format!("left-{i}"));
        seen.push(current_name().unwrap());
        tokio::task::yield_now().await;
    }
    seen
}

#[traced_llm(tags = ["right"])]
async fn right() -> Vec<String> {
    let mut seen = Vec::new();
    for i in 0..2 {
        llm_call(&format!("right-{i}"));
        seen.push(current_name().unwrap());
        tokio::task::yield_now().await;
    }
    seen
}

#[test]
fn interleaved_async_fns_on_one_thread_see_only_their_own_context() {
    let traces = traces_of(|_| {
        let (l, r) = tokio_block_on(async { tokio::join!(left(), right()) });
        assert_eq!(l, ["left", "left"]);
        assert_eq!(r, ["right", "right"]);
    });
    // Really interleaved: each yield handed over to the other future (join! varies which
    // one it polls first).
    let mut firsts = models(&traces)[..2].to_vec();
    let mut seconds = models(&traces)[2..].to_vec();
    firsts.sort();
    seconds.sort();
    assert_eq!((firsts, seconds), (vec!["left-0", "right-0"], vec!["left-1", "right-1"]));
    for trace in &traces {
        let side = if trace.model.starts_with("left") { "left" } else { "right" };
        assert_eq!(trace.function_name, side);
        assert_eq!(path(trace), [side]);
        assert_eq!(tags(trace), [side]);
    }
}

#[test]
fn interleaving_needs_no_tokio() {
    let (l, r) = block_on(async {
        let (mut l, mut r) = (std::pin::pin!(left_no_tokio()), std::pin::pin!(right_no_tokio()));
        let (mut lv, mut rv) = (None, None);
        std::future::poll_fn(|cx| {
            if lv.is_none() {
                if let Poll::Ready(v) = l.as_mut().poll(cx) {
                    lv = Some(v);
                }
            }
            if rv.is_none() {
                if let Poll::Ready(v) = r.as_mut().poll(cx) {
                    rv = Some(v);
                }
            }
            if lv.is_some() && rv.is_some() { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        (lv.unwrap(), rv.unwrap())
    });
    assert_eq!(l, ["left_no_tokio"; 3]);
    assert_eq!(r, ["right_no_tokio"; 3]);
}

#[traced_llm]
async fn left_no_tokio() -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(current_name().unwrap());
        yield_now().await;
    }
    seen
}

#[traced_llm]
async fn right_no_tokio() -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(current_name().unwrap());
        yield_now().await;
    }
    seen
}

#[traced_llm(tags = ["parent"])]
async fn fan_out() {
    let with = tokio::spawn(async { llm_call("task-with") }.with_llm_context());
    let without = tokio::spawn(async { llm_call("task-without") });
    let annotated_with = tokio::spawn(child().with_llm_context());
    let annotated_without = tokio::spawn(child());
    for handle in [with, without, annotated_with, annotated_without] {
        handle.await.unwrap();
    }
}

#[traced_llm(tags = ["child"])]
async fn child() {
    llm_call("child");
}

#[test]
fn spawned_tasks_inherit_the_context_only_with_the_helper() {
    let traces = traces_of(|_| tokio_block_on(fan_out()));
    let with = by_model(&traces, "task-with");
    assert_eq!(with.function_name, "fan_out");
    assert_eq!(tags(with), ["parent"]);
    let without = by_model(&traces, "task-without");
    assert_eq!(without.function_name, "unknown");
    assert!(without.call_path.is_empty());
    let children: Vec<_> = traces.iter().filter(|t| &*t.model == "child").collect();
    assert_eq!(children.len(), 2);
    assert_eq!(path(children[0]), ["fan_out", "child"]);
    assert_eq!(tags(children[0]), ["parent", "child"]);
    assert_eq!(path(children[1]), ["child"], "without the helper the parent is lost");
    assert_eq!(tags(children[1]), ["child"]);
}

#[traced_llm(tags = ["threads"])]
fn spawn_threads(tracer: &Tracer) {
    let t = tracer.clone();
    llm_trace::spawn_thread(move || {
        let _default = t.set_default();
        llm_call("thread-with");
    })
    .join()
    .unwrap();
    let t = tracer.clone();
    std::thread::spawn(move || {
        let _default = t.set_default();
        llm_call("thread-without");
    })
    .join()
    .unwrap();
}

#[test]
fn spawned_threads_inherit_the_context_only_with_the_helper() {
    let traces = traces_of(spawn_threads);
    let with = by_model(&traces, "thread-with");
    assert_eq!(with.function_name, "spawn_threads");
    assert_eq!(tags(with), ["threads"]);
    assert_eq!(by_model(&traces, "thread-without").function_name, "unknown");
}

#[traced_llm]
fn doomed() {
    llm_call("doomed");
    panic!("boom");
}

#[traced_llm]
async fn doomed_async() {
    yield_now().await;
    llm_call("doomed_async");
    panic!("boom");
}

#[traced_llm]
async fn never_finishes() {
    llm_call("started");
    std::future::pending::<()>().await;
}

#[test]
fn a_panic_or_a_dropped_future_leaves_no_stale_context() {
    let traces = traces_of(|_| {
        assert!(std::panic::catch_unwind(doomed).is_err());
        assert_eq!(current_name(), None);
        llm_call("after-sync-panic");
        assert!(std::panic::catch_unwind(|| block_on(doomed_async())).is_err());
        assert_eq!(current_name(), None);
        llm_call("after-async-panic");
        let mut fut = Box::pin(never_finishes());
        assert!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        drop(fut);
        llm_call("after-drop");
    });
    assert_eq!(by_model(&traces, "doomed").function_name, "doomed");
    assert_eq!(by_model(&traces, "doomed_async").function_name, "doomed_async");
    assert_eq!(by_model(&traces, "started").function_name, "never_finishes");
    for after in ["after-sync-panic", "after-async-panic", "after-drop"] {
        assert_eq!(by_model(&traces, after).function_name, "unknown", "{after}");
    }
}

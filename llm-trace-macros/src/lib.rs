//! The `#[traced_llm]` attribute macro of llm-trace. Use it through the `llm-trace` crate, as
//! `llm_trace::traced_llm`.
//!
//! Layout, after `tracing-attributes`: `attr` parses the arguments into typed values, `item`
//! the annotated function, `expand` generates the code and `rewrite` rewrites the LLM call
//! sites of the body.

mod attr;
mod expand;
mod item;
mod rewrite;

use proc_macro::TokenStream;

/// Traces every LLM call made while the annotated function runs.
///
/// Put it on a function — sync or `async`, free or a method, in an impl, a trait impl or a
/// trait's default method — and every LLM call made inside it, directly in its body or in
/// anything it calls, however deep, is recorded with the function's name, module and tags,
/// the metadata and session you give, and the `call_path` of the annotated functions around
/// it. Calls are recorded by the traced OpenAI client (`llm_trace::openai::TracedClient`), by
/// call sites this attribute rewrites (see below), and by the manual API (`llm_trace::call`).
/// The function's attributes and doc comments stay exactly as written, and so does its
/// signature, but for an `async fn`'s, which usually becomes that of the fn it is sugar for
/// (see [Async functions](#async-functions)).
///
/// ```
/// use llm_trace::{sink::MemorySink, traced_llm, FinishReason, Tracer};
///
/// #[traced_llm(tags = ["support", "classification"])]
/// fn classify_ticket(ticket: &str) -> &'static str {
///     // Any LLM call: here through the manual API.
///     llm_trace::call("anthropic", "chat", "claude-haiku-4-5").finish(FinishReason::Stop);
///     if ticket.contains("invoice") { "billing" } else { "other" }
/// }
///
/// let memory = MemorySink::new();
/// let tracer = Tracer::builder().sink(memory.clone()).build()?;
/// let _default = tracer.set_default(); // applications call `llm_trace::init` instead
///
/// assert_eq!(classify_ticket("my invoice is wrong"), "billing");
/// tracer.flush()?;
/// let trace = &memory.traces()[0];
/// assert_eq!(trace.function_name, "classify_ticket");
/// assert_eq!(trace.call_path.as_ref(), ["classify_ticket"]);
/// assert_eq!(trace.tags.as_ref(), ["support", "classification"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Arguments
///
/// All optional: `#[traced_llm]` alone works.
///
/// | argument | effect |
/// |---|---|
/// | `name = "triage"` | the recorded `function_name` (default: the fn's own name) |
/// | `tags = ["support", "billing"]` | string literals, added to the tags of the enclosing annotated fns |
/// | `metadata(key = expr, ...)` | evaluated when the fn is entered, with its arguments in scope; a `Serialize` value is recorded as JSON, any other `Display` value as its text; keys are identifiers or string literals |
/// | `session = expr` | any `AsRef<str>`: the `session_id` of every call inside, instead of the tracer's |
/// | `rewrite = false` | turns call-site rewriting off (it is on by default) |
/// | `crate = path` | where llm-trace is, for crates that re-export it (default `::llm_trace`) |
///
/// ```
/// use std::fmt;
/// use llm_trace::{sink::MemorySink, traced_llm, FinishReason, Tracer};
///
/// struct Customer(&'static str);
/// impl fmt::Display for Customer {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "customer {}", self.0)
///     }
/// }
///
/// #[traced_llm(
///     name = "triage",
///     tags = ["support"],
///     metadata(ticket_id = ticket_id, chars = text.len(), customer = customer, "queue-name" = "eu"),
///     session = format!("ticket-{ticket_id}"),
/// )]
/// fn triage_ticket(ticket_id: u64, text: &str, customer: &Customer) {
///     llm_trace::call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop);
/// }
///
/// # let memory = MemorySink::new();
/// # let tracer = Tracer::builder().sink(memory.clone()).build()?;
/// # let _default = tracer.set_default();
/// triage_ticket(42, "refund please", &Customer("ada"));
/// # tracer.flush()?;
/// # let trace = &memory.traces()[0];
/// assert_eq!(trace.function_name, "triage");
/// assert_eq!(&*trace.session_id, "ticket-42");
/// let metadata = &trace.metadata;
/// assert_eq!(metadata.get("ticket_id").unwrap().to_string(), "42");
/// assert_eq!(metadata.get("chars").unwrap().to_string(), "13");
/// assert_eq!(metadata.get("customer").unwrap().to_string(), r#""customer ada""#);
/// assert_eq!(metadata.get("queue-name").unwrap().to_string(), r#""eu""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `rewrite = false` and `crate = path`:
///
/// ```
/// mod my_facade {
///     // A crate that re-exports llm-trace to its users.
///     pub use llm_trace as tracing;
/// }
///
/// #[llm_trace::traced_llm(crate = my_facade::tracing, rewrite = false)]
/// fn summarize() -> String {
///     llm_trace::CallContext::current().unwrap().function_name().to_owned()
/// }
///
/// assert_eq!(summarize(), "summarize");
/// ```
///
/// # Async functions
///
/// The body of an `async fn` becomes a future that enters the function's context on every
/// `poll` and while it is dropped, and leaves it before handing control back to the executor,
/// as `tracing::Instrument` does. The context therefore survives `.await` on any executor (no
/// tokio needed), and futures interleaved on one thread (`join!`, `select!`) each see only
/// their own. `metadata` and `session` are evaluated when the body starts, that is on the
/// first poll (which is also when the arguments are first looked at).
///
/// Without `metadata` or `session`, and unless another attribute below this one may be a
/// macro that needs an `async fn` (`#[tokio::main]`, `#[tokio::test]`, ...), the `async fn`
/// is written as what it is sugar for, a fn returning its future, `fn f(..) -> impl
/// Future<Output = R>`, whose future is the body wrapped: one state machine rather than the
/// `async fn`'s around the wrapped body's, which would move the arguments from one to the
/// other on the first poll. Callers see no difference: the future holds every argument with
/// something to drop until it ends, as an `async fn`'s does (and drops it in the fn's
/// context), and captures the same lifetimes in every edition. Trait impls of `async fn`
/// methods accept it; rustdoc shows the fn form.
///
/// ```edition2021
/// use llm_trace::{traced_llm, CallContext};
///
/// struct Agent {
///     name: String,
/// }
///
/// impl Agent {
///     // Elided lifetimes, an `impl Trait` argument and a generic, in a 2021-edition crate.
///     #[traced_llm]
///     async fn greet<T: std::fmt::Display>(&self, hello: &str, to: impl AsRef<str>, n: T) -> String {
///         let function = CallContext::current().unwrap().function_name().to_owned();
///         format!("{hello} {} #{n}, from {} in {function}", to.as_ref(), self.name)
///     }
/// }
///
/// let agent = Agent { name: "ada".into() };
/// let future = agent.greet("hi", String::from("bob"), 7);
/// assert_eq!(block_on(future), "hi bob #7, from ada in greet");
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #     }
/// # }
/// ```
///
/// A function that is not `async` but returns an async block — `async move { .. }`,
/// `Box::pin(async move { .. })` or `async move { .. }.boxed()`, as `#[async_trait]` generates
/// and as hand-written `Pin<Box<dyn Future>>` methods do — gets the returned block wrapped
/// instead: the context is entered when the future is polled, not when it is built (statements
/// before the returned block run at call time, outside the context). With `#[async_trait]`,
/// put `#[async_trait]` on the impl and `#[traced_llm]` on the method, above or below its
/// other attributes.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use llm_trace::{traced_llm, CallContext};
///
/// fn current() -> Option<String> {
///     CallContext::current().map(|c| c.function_name().to_owned())
/// }
///
/// #[traced_llm]
/// async fn draft_reply(ticket: &str) -> String {
///     tick().await; // the context is left while pending, and entered again on the next poll
///     format!("{} answers {ticket}", current().unwrap())
/// }
///
/// struct Bot;
/// impl Bot {
///     #[traced_llm]
///     fn answer(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>> {
///         Box::pin(async move { current().unwrap() })
///     }
/// }
///
/// assert_eq!(block_on(draft_reply("#7")), "draft_reply answers #7");
/// let future = Bot.answer();
/// assert_eq!(current(), None); // built, not yet entered
/// assert_eq!(block_on(future), "answer");
/// # /// Pending once.
/// # fn tick() -> impl Future<Output = ()> {
/// #     let mut done = false;
/// #     std::future::poll_fn(move |cx| if std::mem::replace(&mut done, true) {
/// #         std::task::Poll::Ready(())
/// #     } else {
/// #         assert_eq!(CallContext::current().unwrap().function_name(), "draft_reply");
/// #         cx.waker().wake_by_ref();
/// #         std::task::Poll::Pending
/// #     })
/// # }
/// # fn block_on<F: Future>(f: F) -> F::Output {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #         assert_eq!(current(), None); // nothing leaks out of a pending poll
/// #     }
/// # }
/// ```
///
/// # Nesting
///
/// Annotated functions called (or awaited) inside one another nest at run time: a call's
/// `call_path` lists the enclosing annotated functions, outermost first; its `function_name`
/// and `module_path` are the innermost one's; its tags are the union of theirs in order of
/// first appearance; metadata is merged, inner keys winning; the session is the innermost one
/// set. Recursion repeats the name in the path. Outside any annotated function,
/// `function_name` is `"unknown"` and the path is empty.
///
/// ```
/// use llm_trace::{traced_llm, CallContext};
///
/// #[traced_llm(tags = ["support"], metadata(step = "outer"))]
/// fn handle_ticket() -> Vec<String> {
///     classify()
/// }
///
/// #[traced_llm(tags = ["classification", "support"], metadata(step = "inner"))]
/// fn classify() -> Vec<String> {
///     let ctx = CallContext::current().unwrap();
///     assert_eq!(ctx.tags(), ["support", "classification"]);
///     assert_eq!(ctx.metadata().get("step").unwrap(), "inner");
///     ctx.call_path().iter().map(|name| name.to_string()).collect()
/// }
///
/// assert_eq!(handle_ticket(), ["handle_ticket", "classify"]);
/// assert!(CallContext::current().is_none());
/// ```
///
/// # Spawned tasks and threads
///
/// A task handed to an executor (`tokio::spawn`) or a new thread runs outside the poll or the
/// call that spawned it, so it does not inherit the context by itself: its calls see only the
/// annotated functions entered inside it (their `call_path` starts there), or none
/// (`"unknown"`). Carry the context over with `fut.with_llm_context()` (from
/// `llm_trace::LlmContextExt`) for futures and `llm_trace::spawn_thread` for threads.
///
/// ```
/// use std::future::Future;
/// use llm_trace::{traced_llm, CallContext, LlmContextExt as _};
///
/// fn current() -> Option<String> {
///     CallContext::current().map(|c| c.function_name().to_owned())
/// }
///
/// #[traced_llm]
/// fn fan_out() -> (Option<String>, Option<String>) {
///     let with = llm_trace::spawn_thread(current).join().unwrap();
///     let without = std::thread::spawn(current).join().unwrap();
///     (with, without)
/// }
///
/// #[traced_llm]
/// fn make_task() -> impl Future<Output = Option<String>> + Send + 'static {
///     let task = async { current() };
///     task.with_llm_context() // in make_task's context wherever it is polled, later
/// }
///
/// assert_eq!(fan_out(), (Some("fan_out".to_owned()), None));
/// let task = make_task();
/// assert_eq!(block_on(task).as_deref(), Some("make_task"));
/// # fn block_on<F: Future>(f: F) -> F::Output {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #     }
/// # }
/// ```
///
/// # Call-site rewriting
///
/// In the annotated body, every call written as `<expr>.chat().create(<req>)`,
/// `<expr>.chat().create_stream(<req>)` or `<expr>.embeddings().create(<req>)` (with
/// `chat()`/`embeddings()` taking no arguments and no turbofish) is rewritten so that, when
/// `<expr>.chat()` is async-openai's `Chat` (or `Embeddings`), the call goes through the same
/// traced wrapper `TracedClient` uses: a plain `async_openai::Client` used directly in an
/// annotated function is traced too. The choice is made by the type at compile time, never by
/// names: any other type — your own `chat()` returning your own type, or `TracedClient`'s
/// already traced chat — is handed back unchanged, so look-alike types compile and behave
/// exactly as before, and calls through `TracedClient` are recorded once, not twice.
///
/// What is rewritten: the whole body, including closures and async blocks, receivers and
/// arguments of other calls, and the arguments of `join!`/`try_join!`. What is not: items
/// nested in the body (a `fn` defined inside it), the arguments of any other macro (which may
/// match on or print its input), calls written another way (`let chat = client.chat();
/// chat.create(req)`), and receivers whose type is a type parameter of a generic function.
/// Calls in other functions are covered by the context when they go through `TracedClient`.
/// `rewrite = false` turns rewriting off for the function.
///
/// ```
/// use llm_trace::traced_llm;
///
/// // Not async-openai: unchanged by the rewrite.
/// struct MyClient;
/// struct MyChat;
/// impl MyClient {
///     fn chat(&self) -> MyChat { MyChat }
/// }
/// impl MyChat {
///     fn create(&self, prompt: &str) -> usize { prompt.len() }
/// }
///
/// #[traced_llm]
/// fn ask(client: &MyClient) -> usize {
///     client.chat().create("hello")
/// }
///
/// assert_eq!(ask(&MyClient), 5);
/// ```
///
/// # Compile-time errors
///
/// Misuse is one error pointing at the offending token and saying what to write instead: an
/// unknown or duplicate argument, tags that are not a list of string literals, a `name` that
/// is not a string literal, `rewrite` that is not `true` or `false`, `crate` that is not a
/// path, a `const fn` (the context is entered at run time), a function without a body, or an
/// item that is not a function. The item is emitted unchanged next to the error, so its uses
/// elsewhere do not cascade into more errors.
///
/// # Limits
///
/// - The context belongs to a thread (sync) or a future (async). Work moved to other threads
///   or tasks needs `with_llm_context`/`spawn_thread` (or `Scope::from_context`) to keep it.
/// - A *sync* annotated function that blocks on an executor (`block_on`) keeps its context
///   entered for everything that executor polls on that thread meanwhile, spawned tasks
///   included. Annotate the `async fn` instead.
/// - In an async function, `metadata` and `session` are evaluated at the first poll; in an
///   async-trait shaped function, when the returned future is first polled.
/// - Rewriting is syntactic (see above); calls it does not see are still traced when they go
///   through `TracedClient` or the manual API.
#[proc_macro_attribute]
pub fn traced_llm(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced_llm(args.into(), item.into()).into()
}

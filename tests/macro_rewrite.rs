//! Call-site rewriting by `#[traced_llm]`: `<recv>.chat().create(..)` and friends written in
//! the annotated body go through `__private::Rewrite`, which swaps in the traced wrapper for
//! the types that have one and hands every other type back unchanged.
//!
//! Look-alike types must compile and behave exactly as before. Where the rewrite happens is
//! observed through `crate = shim`: a stand-in for `llm_trace::__private` whose `ViaTraced`
//! counts the calls it wraps.

use std::cell::Cell;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use llm_trace::traced_llm;

fn block_on<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Look-alikes: user types with `.chat().create(..)` behave exactly as without the attribute

struct Fake {
    factor: u32,
}

struct FakeChat {
    factor: u32,
}

struct FakeEmbeddings;

impl Fake {
    fn chat(&self) -> FakeChat {
        FakeChat { factor: self.factor }
    }

    fn embeddings(&self) -> FakeEmbeddings {
        FakeEmbeddings
    }
}

impl FakeChat {
    fn create(&self, x: u32) -> u32 {
        x * self.factor
    }

    fn create_stream(&self, x: u32) -> Vec<u32> {
        vec![x; self.factor as usize]
    }
}

impl FakeEmbeddings {
    fn create(&self, text: &str) -> Vec<f32> {
        vec![text.len() as f32]
    }
}

/// `create` takes the chat by value.
struct Owned(String);

struct OwnedChat(String);

impl Owned {
    fn chat(&self) -> OwnedChat {
        OwnedChat(self.0.clone())
    }
}

impl OwnedChat {
    fn create(self, suffix: &str) -> String {
        self.0 + suffix
    }
}

/// `chat()` hands out a reference.
struct Borrowing {
    chat: FakeChat,
}

impl Borrowing {
    fn chat(&self) -> &FakeChat {
        &self.chat
    }
}

/// An async `create`, borrowing the client, as async-openai's is.
struct AsyncFake {
    prefix: String,
}

struct AsyncChat<'c> {
    client: &'c AsyncFake,
}

impl AsyncFake {
    fn chat(&self) -> AsyncChat<'_> {
        AsyncChat { client: self }
    }
}

impl AsyncChat<'_> {
    async fn create(&self, request: &str) -> Result<String, String> {
        if request.is_empty() {
            return Err("empty request".to_owned());
        }
        Ok(format!("{}{request}", self.client.prefix))
    }
}

/// Reached through a trait, in generic code.
trait Provider {
    type Chat: CreateChat;
    fn chat(&self) -> Self::Chat;
}

trait CreateChat {
    fn create(&self, x: u32) -> u32;
}

impl Provider for Fake {
    type Chat = FakeChat;
    fn chat(&self) -> FakeChat {
        Fake::chat(self)
    }
}

impl CreateChat for FakeChat {
    fn create(&self, x: u32) -> u32 {
        FakeChat::create(self, x)
    }
}

#[traced_llm]
fn look_alikes(
    fake: &Fake,
    owned: &Owned,
    borrowing: &Borrowing,
) -> (u32, Vec<u32>, Vec<f32>, String, u32) {
    fake.chat().create(2);
    let nested = fake.chat().create(fake.chat().create(1));
    let closure = |x| fake.chat().create(x);
    (
        nested + closure(0),
        fake.chat().create_stream(3),
        fake.embeddings().create("four"),
        owned.chat().create("!"),
        borrowing.chat().create(5),
    )
}

#[traced_llm(rewrite = false)]
fn look_alikes_unrewritten(
    fake: &Fake,
    owned: &Owned,
    borrowing: &Borrowing,
) -> (u32, Vec<u32>, Vec<f32>, String, u32) {
    fake.chat().create(2);
    let nested = fake.chat().create(fake.chat().create(1));
    let closure = |x| fake.chat().create(x);
    (
        nested + closure(0),
        fake.chat().create_stream(3),
        fake.embeddings().create("four"),
        owned.chat().create("!"),
        borrowing.chat().create(5),
    )
}

#[test]
fn look_alike_types_compile_and_behave_as_before() {
    let fake = Fake { factor: 3 };
    let owned = Owned("hi".to_owned());
    let borrowing = Borrowing { chat: FakeChat { factor: 7 } };
    let expected = (9, vec![3, 3, 3], vec![4.0], "hi!".to_owned(), 35);
    assert_eq!(look_alikes(&fake, &owned, &borrowing), expected);
    assert_eq!(look_alikes_unrewritten(&fake, &owned, &borrowing), expected);
}

#[traced_llm]
async fn async_look_alike(client: &AsyncFake, request: &str) -> Result<String, String> {
    let first = client.chat().create(request).await?;
    let joined = tokio::join!(async { client.chat().create("a").await }, async {
        client.chat().create("b").await
    },);
    Ok(format!("{first} {} {}", joined.0?, joined.1?))
}

#[test]
fn async_look_alikes_behave_as_before() {
    let client = AsyncFake { prefix: "re:".to_owned() };
    assert_eq!(block_on(async_look_alike(&client, "x")).as_deref(), Ok("re:x re:a re:b"));
    assert_eq!(block_on(async_look_alike(&client, "")), Err("empty request".to_owned()));
}

#[traced_llm]
fn generic_receiver<P: Provider>(provider: &P) -> u32 {
    // The receiver's type is a type parameter: nothing to swap, the original value is used.
    provider.chat().create(6)
}

#[test]
fn generic_receivers_fall_back_to_the_original() {
    assert_eq!(generic_receiver(&Fake { factor: 2 }), 12);
}

// ---------------------------------------------------------------------------------------------
// Where the rewrite happens, observed through a counting stand-in for `__private`

thread_local! {
    static WRAPPED: Cell<u32> = const { Cell::new(0) };
}

fn wrapped() -> u32 {
    WRAPPED.with(Cell::get)
}

/// Plays async-openai's `Client`.
struct Client;

/// Plays async-openai's `Chat`: has a "traced" counterpart in the shim.
struct Chat<'c>(#[allow(dead_code)] &'c Client);

impl Client {
    fn chat(&self) -> Chat<'_> {
        Chat(self)
    }
}

impl Chat<'_> {
    fn create(&self, x: u32) -> u32 {
        x + 1
    }
}

/// Plays the traced wrapper: counts, then delegates.
struct CountingChat<'c>(Chat<'c>);

impl CountingChat<'_> {
    fn create(&self, x: u32) -> u32 {
        WRAPPED.with(|n| n.set(n.get() + 1));
        self.0.create(x)
    }
}

/// Plays `TracedClient`: its `chat()` is already the traced wrapper.
struct TracedLike(Client);

impl TracedLike {
    fn chat(&self) -> CountingChat<'_> {
        CountingChat(self.0.chat())
    }
}

/// What `crate = shim` points the generated code at.
mod shim {
    pub(crate) mod __private {
        use std::cell::Cell;

        pub(crate) use llm_trace::__private::{
            MetaValue, MetaViaDisplay, MetaViaSerialize, Scope, StaticScope,
        };

        pub(crate) struct Rewrite<T>(Cell<Option<T>>);

        impl<T> Rewrite<T> {
            pub(crate) fn new(value: T) -> Rewrite<T> {
                Rewrite(Cell::new(Some(value)))
            }
        }

        pub(crate) trait ViaTraced {
            type Traced;
            fn __llm_trace_rewrite(self) -> Self::Traced;
        }

        pub(crate) trait ViaOriginal {
            type Original;
            fn __llm_trace_rewrite(self) -> Self::Original;
        }

        impl<T> ViaOriginal for &Rewrite<T> {
            type Original = T;
            fn __llm_trace_rewrite(self) -> T {
                self.0.take().unwrap()
            }
        }

        impl<'c> ViaTraced for Rewrite<crate::Chat<'c>> {
            type Traced = crate::CountingChat<'c>;
            fn __llm_trace_rewrite(self) -> crate::CountingChat<'c> {
                crate::CountingChat(self.0.into_inner().unwrap())
            }
        }
    }
}

/// Runs `f` and returns its result with the number of calls that went through the wrapper.
fn counting<R>(f: impl FnOnce() -> R) -> (R, u32) {
    let before = wrapped();
    let result = f();
    (result, wrapped() - before)
}

#[traced_llm(crate = crate::shim)]
fn direct(client: &Client) -> u32 {
    client.chat().create(1)
}

#[traced_llm(crate = crate::shim, rewrite = false)]
fn direct_unrewritten(client: &Client) -> u32 {
    client.chat().create(1)
}

#[traced_llm(crate = crate::shim)]
fn everywhere_in_the_body(client: &Client) -> u32 {
    let in_closure = |x| client.chat().create(x);
    let in_async_block = async { client.chat().create(10) };
    let nested = client.chat().create(client.chat().create(100));
    let joined = block_on(async {
        tokio::join!(
            std::future::ready(client.chat().create(1000)),
            std::future::ready(client.chat().create(2000)),
        )
    });
    in_closure(1) + block_on(in_async_block) + nested + joined.0 + joined.1
}

#[traced_llm(crate = crate::shim)]
fn not_in_nested_items(client: &Client) -> u32 {
    fn helper(client: &Client) -> u32 {
        client.chat().create(1)
    }
    struct Local;
    impl Local {
        fn call(client: &Client) -> u32 {
            client.chat().create(2)
        }
    }
    helper(client) + Local::call(client)
}

#[traced_llm(crate = crate::shim)]
fn not_in_other_macros(client: &Client) -> String {
    format!("{}", client.chat().create(1))
}

#[traced_llm(crate = crate::shim, tags = ["shim"], metadata(k = 1))]
async fn async_direct(client: &Client) -> u32 {
    std::future::ready(()).await;
    client.chat().create(1)
}

#[traced_llm(crate = crate::shim)]
fn through_the_traced_wrapper(client: &TracedLike) -> u32 {
    client.chat().create(1)
}

#[test]
fn calls_in_the_body_are_rewritten() {
    let client = Client;
    assert_eq!(counting(|| direct(&client)), (2, 1));
    assert_eq!(counting(|| block_on(async_direct(&client))), (2, 1));
}

#[test]
fn rewrite_false_turns_the_rewrite_off() {
    assert_eq!(counting(|| direct_unrewritten(&Client)), (2, 0));
}

#[test]
fn closures_async_blocks_nested_calls_and_join_arguments_are_rewritten() {
    let expected = 2 + 11 + 102 + 1001 + 2001;
    assert_eq!(counting(|| everywhere_in_the_body(&Client)), (expected, 6));
}

#[test]
fn nested_items_and_other_macros_are_not_rewritten() {
    assert_eq!(counting(|| not_in_nested_items(&Client)), (5, 0));
    assert_eq!(counting(|| not_in_other_macros(&Client)), ("2".to_owned(), 0));
}

#[test]
fn calls_through_the_traced_wrapper_are_not_wrapped_twice() {
    assert_eq!(counting(|| through_the_traced_wrapper(&TracedLike(Client))), (2, 1));
}

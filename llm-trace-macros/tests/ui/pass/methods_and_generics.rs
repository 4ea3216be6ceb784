//! Receivers, generics, lifetimes, where clauses, `impl Trait`, `Self`.
#![deny(warnings)]

use std::fmt::Display;

use llm_trace::{CallContext, traced_llm};

fn name() -> String {
    CallContext::current().unwrap().function_name().to_owned()
}

#[derive(Debug, Clone, PartialEq)]
struct Agent<T> {
    state: T,
}

impl<T: Clone + Display + Send + Sync> Agent<T> {
    #[traced_llm(metadata(state = self.state.to_string()))]
    fn by_ref(&self) -> &T {
        assert_eq!(name(), "by_ref");
        &self.state
    }

    #[traced_llm]
    fn by_mut(&mut self, state: T) -> &mut Self {
        assert_eq!(name(), "by_mut");
        self.state = state;
        self
    }

    #[traced_llm]
    fn by_value(self) -> T {
        assert_eq!(name(), "by_value");
        self.state
    }

    #[traced_llm]
    async fn async_by_ref(&self) -> T {
        assert_eq!(name(), "async_by_ref");
        self.state.clone()
    }

    #[traced_llm]
    async fn async_by_mut(&mut self, state: T) -> &mut T {
        assert_eq!(name(), "async_by_mut");
        self.state = state;
        &mut self.state
    }

    #[traced_llm]
    async fn new_async(state: T) -> Self {
        Agent { state }
    }
}

#[traced_llm]
fn longest<'a, 'b: 'a, S>(a: &'a S, b: &'b S) -> &'a S
where
    S: AsRef<str> + ?Sized,
{
    if a.as_ref().len() >= b.as_ref().len() { a } else { b }
}

#[traced_llm]
async fn async_longest<'a, S: AsRef<str> + ?Sized + Sync>(a: &'a S, b: &'a S) -> &'a S {
    if a.as_ref().len() >= b.as_ref().len() { a } else { b }
}

#[traced_llm]
fn impl_trait(items: impl IntoIterator<Item = u32>) -> impl Iterator<Item = u32> {
    items.into_iter().map(|x| x * 2)
}

#[traced_llm]
async fn async_impl_trait(x: impl Display + Send) -> Result<impl Display, String> {
    Ok(format!("[{x}]"))
}

#[traced_llm]
fn const_generic<const N: usize>(xs: [u8; N]) -> usize {
    xs.len() + N
}

#[traced_llm]
fn patterns((a, b): (u32, u32), Agent { state }: Agent<u32>, mut acc: Vec<u32>) -> Vec<u32> {
    acc.extend([a, b, state]);
    acc
}

#[traced_llm]
async fn async_patterns((a, b): (u32, u32), mut acc: Vec<u32>) -> Vec<u32> {
    acc.extend([a, b]);
    acc
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
    let mut agent = block_on(Agent::new_async(1u32));
    assert_eq!(*agent.by_ref(), 1);
    assert_eq!(agent.by_mut(2).state, 2);
    assert_eq!(block_on(agent.async_by_ref()), 2);
    *block_on(agent.async_by_mut(3)) += 1;
    assert_eq!(agent.clone().by_value(), 4);
    assert_eq!(longest("ab", "abc"), "abc");
    assert_eq!(block_on(async_longest("abcd", "abc")), "abcd");
    assert_eq!(impl_trait([1, 2]).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(block_on(async_impl_trait(5)).unwrap().to_string(), "[5]");
    assert_eq!(const_generic([1, 2, 3]), 6);
    assert_eq!(patterns((1, 2), Agent { state: 3 }, vec![0]), [0, 1, 2, 3]);
    assert_eq!(block_on(async_patterns((1, 2), vec![0])), [0, 1, 2]);
}

//! Functions that return a future built from an async block (what `#[async_trait]` makes, and
//! hand-written equivalents): the context is entered when the future is polled.
#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;

use llm_trace::{CallContext, traced_llm};

fn name() -> Option<String> {
    CallContext::current().map(|c| c.function_name().to_owned())
}

struct Bot(u32);

impl Bot {
    #[traced_llm(metadata(bot = self.0))]
    fn boxed(&self) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + '_>> {
        Box::pin(async move {
            assert_eq!(name().as_deref(), Some("boxed"));
            if self.0 == 0 {
                return Err("zero".to_owned());
            }
            let n: u32 = self.0.to_string().parse().map_err(|_| "nan".to_owned())?;
            Ok(n)
        })
    }

    #[traced_llm]
    fn impl_future(&self) -> impl Future<Output = u32> + '_ {
        async move {
            assert_eq!(name().as_deref(), Some("impl_future"));
            self.0
        }
    }

    #[traced_llm]
    fn with_statements_before(&self) -> Pin<Box<dyn Future<Output = u32> + '_>> {
        // Runs when called, outside the context.
        assert_eq!(name(), None);
        let n = self.0 * 2;
        return std::boxed::Box::pin(async move {
            assert_eq!(name().as_deref(), Some("with_statements_before"));
            n
        });
    }
}

#[async_trait::async_trait]
trait Assistant {
    async fn answer(&self, question: &str) -> Result<String, String>;
    async fn consume(self) -> u32;
}

#[async_trait::async_trait]
impl Assistant for Bot {
    #[traced_llm(tags = ["assistant"], metadata(question = question))]
    async fn answer(&self, question: &str) -> Result<String, String> {
        assert_eq!(name().as_deref(), Some("answer"));
        let _check: u32 = "1".parse().map_err(|_| "nan".to_owned())?;
        Ok(format!("{question}:{}", self.0))
    }

    /// Other attributes above and below.
    #[inline]
    #[traced_llm]
    #[allow(unused_mut)]
    async fn consume(mut self) -> u32 {
        assert_eq!(name().as_deref(), Some("consume"));
        self.0
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    let bot = Bot(3);
    let fut = bot.boxed();
    assert_eq!(name(), None, "building the future enters nothing");
    assert_eq!(block_on(fut), Ok(3));
    assert_eq!(block_on(Bot(0).boxed()), Err("zero".to_owned()));
    assert_eq!(block_on(bot.impl_future()), 3);
    assert_eq!(block_on(bot.with_statements_before()), 6);
    assert_eq!(block_on(bot.answer("q")).unwrap(), "q:3");
    assert_eq!(block_on(bot.consume()), 3);
}

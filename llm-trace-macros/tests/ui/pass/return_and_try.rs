//! `return` and `?` keep their meaning, and type inference stays as without the attribute.
#![deny(warnings)]

use std::error::Error;
use std::num::ParseIntError;

use llm_trace::{CallContext, traced_llm};

#[derive(Debug)]
struct AppError;

impl From<ParseIntError> for AppError {
    fn from(_: ParseIntError) -> AppError {
        AppError
    }
}

#[traced_llm]
fn sync_try(s: &str) -> Result<u32, AppError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n = s.parse::<u32>()?;
    Ok(n)
}

#[traced_llm]
async fn async_try(s: &str) -> Result<u32, AppError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n = s.parse::<u32>()?;
    Ok(n)
}

#[traced_llm]
async fn async_boxed_error(s: &str) -> Result<u32, Box<dyn Error + Send + Sync>> {
    let n: u32 = s.parse()?;
    if n == 0 {
        return Err("zero".into());
    }
    Ok(n)
}

#[traced_llm]
async fn async_option(xs: &[u32]) -> Option<u32> {
    let first = xs.first()?;
    Some(*first + 1)
}

#[traced_llm]
fn sync_early_return_in_loop(xs: &[u32]) -> u32 {
    for x in xs {
        if *x > 2 {
            return *x;
        }
    }
    0
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
    assert_eq!(sync_try("").unwrap(), 0);
    assert_eq!(sync_try("5").unwrap(), 5);
    assert!(sync_try("x").is_err());
    assert_eq!(block_on(async_try("6")).unwrap(), 6);
    assert!(block_on(async_try("x")).is_err());
    assert!(block_on(async_boxed_error("0")).is_err());
    assert_eq!(block_on(async_option(&[1])), Some(2));
    assert_eq!(block_on(async_option(&[])), None);
    assert_eq!(sync_early_return_in_loop(&[1, 3]), 3);
    assert!(CallContext::current().is_none());
}

//! `unsafe fn`, `async unsafe fn` and `extern "C" fn`.
#![deny(warnings)]

use llm_trace::{CallContext, traced_llm};

/// # Safety
/// `p` must be readable.
#[traced_llm]
pub unsafe fn read(p: *const u32) -> u32 {
    assert_eq!(CallContext::current().unwrap().function_name(), "read");
    // SAFETY: the caller promises `p` is readable.
    unsafe { *p }
}

/// # Safety
/// `p` must be readable until the future completes.
#[traced_llm]
pub async unsafe fn read_async(p: *const u32) -> u32 {
    // SAFETY: the caller promises `p` is readable.
    unsafe { *p }
}

#[traced_llm]
pub extern "C" fn ffi(x: u32) -> u32 {
    assert_eq!(CallContext::current().unwrap().function_name(), "ffi");
    x + 1
}

#[traced_llm]
pub unsafe extern "C" fn ffi_unsafe(p: *const u32) -> u32 {
    // SAFETY: the caller promises `p` is readable.
    unsafe { *p }
}

fn main() {
    let x = 1;
    // SAFETY: `x` is alive.
    assert_eq!(unsafe { read(&x) }, 1);
    let f: extern "C" fn(u32) -> u32 = ffi;
    assert_eq!(f(1), 2);
    // SAFETY: `x` is alive.
    assert_eq!(unsafe { ffi_unsafe(&x) }, 1);
    // SAFETY: `x` outlives the future, which is never polled.
    drop(unsafe { read_async(&x) });
}

//! Code generation: the annotated function, re-emitted token for token, with its body
//! entering a `Scope` (sync), wrapped in `InFn` or `Scope::instrument` (async), or with its
//! returned async block wrapped (async-trait shape).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, TokenStreamExt as _, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, Expr, ExprAsync, FnArg, Ident, LitStr, Pat, PatIdent, Path, ReceiverKind,
    ReturnType, Signature, Stmt, Token, Type, token,
};

use crate::attr::Args;
use crate::item::{Body, TracedFn};
use crate::rewrite::rewrite_stmts;

/// The whole macro, on `proc_macro2` tokens so that it can be unit tested.
pub(crate) fn traced_llm(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse2::<Args>(args);
    let func = TracedFn::parse(item.clone());
    match (args, func) {
        (Ok(args), Ok(func)) => gen_function(&args, func),
        (Err(mut error), Err(item_error)) => {
            error.combine(item_error);
            with_error(item, error)
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => with_error(item, error),
    }
}

/// The original item, unchanged, followed by the error: the user sees the error and nothing
/// else (no "cannot find function" at every call site of a function that vanished).
fn with_error(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

fn gen_function(args: &Args, mut func: TracedFn) -> TokenStream {
    let krate = args.krate();
    if let (Body::Parsed(stmts), true) = (&mut func.body, args.rewrite()) {
        rewrite_stmts(stmts, &krate);
    }
    let scope = gen_scope(args, &krate, &func.sig);
    let brace = func.brace_token;
    let body = match &mut func.body {
        Body::Parsed(stmts) if func.sig.asyncness.is_none() => match returned_async_block(stmts) {
            Some(slot) => {
                // async-trait shape: the statements stay, the returned future is wrapped.
                let async_block = std::mem::replace(slot, Expr::PLACEHOLDER);
                let (items, wrapped) = instrument_async_block(args, &krate, &scope, async_block);
                *slot = wrapped;
                let mut tokens = items;
                tokens.append_all(stmts.iter());
                tokens
            }
            None => gen_sync(&scope, &block(brace, quote!(#(#stmts)*))),
        },
        Body::Parsed(stmts) => {
            let body = block(brace, quote!(#(#stmts)*));
            gen_async(args, &krate, &scope, &func.outer_attrs, &mut func.sig, &body)
        }
        Body::Raw(tokens) if func.sig.asyncness.is_none() => {
            gen_sync(&scope, &block(brace, tokens.clone()))
        }
        Body::Raw(tokens) => {
            let body = block(brace, tokens.clone());
            gen_async(args, &krate, &scope, &func.outer_attrs, &mut func.sig, &body)
        }
    };
    let TracedFn { outer_attrs, vis, sig, brace_token, inner_attrs, .. } = &func;
    let mut out = quote!(#(#outer_attrs)* #vis #sig);
    brace_token.surround(&mut out, |tokens| {
        tokens.append_all(inner_attrs);
        tokens.extend(body);
    });
    out
}

/// The user's body in its own braces (their spans).
fn block(brace: token::Brace, inner: TokenStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    brace.surround(&mut tokens, |tokens| tokens.extend(inner));
    tokens
}

/// An expression with `.enter_in_fn()`. Everything known at compile time (the usual case): a
/// reference to a `static` `StaticScope`, so that entering builds nothing and the context of
/// an outermost call is built once. With metadata or a session:
/// `Scope::new(name, module_path!(), &[tags]).with_metadata(..)*.with_session(..)?`.
fn gen_scope(args: &Args, krate: &Path, sig: &Signature) -> TokenStream {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span()),
    };
    let tags = &args.tags;
    if args.metadata.is_empty() && args.session.is_none() {
        return quote! {
            {
                static __LLM_TRACE_SCOPE: #krate::__private::StaticScope =
                    #krate::__private::StaticScope::new(#name, ::core::module_path!(), &[#(#tags),*]);
                &__LLM_TRACE_SCOPE
            }
        };
    }
    let mut scope = quote! {
        #krate::__private::Scope::new(#name, ::core::module_path!(), &[#(#tags),*])
    };
    for entry in &args.metadata {
        let key = &entry.key;
        let value = &entry.value;
        // By value first (`MetaValue<T>: MetaViaSerialize` when `T: Serialize`), by
        // reference otherwise (`&MetaValue<T>: MetaViaDisplay` when `T: Display`). Located at
        // the user's expression, so "neither Serialize nor Display" points there.
        let span = Span::call_site().located_at(value.span());
        let probe = quote_spanned! {span=>
            {
                #[allow(unused_imports)]
                use #krate::__private::{MetaViaDisplay as _, MetaViaSerialize as _};
                #krate::__private::MetaValue(&(#value)).__llm_trace_meta()
            }
        };
        scope = quote!(#scope.with_metadata(#key, #probe));
    }
    if let Some(session) = &args.session {
        scope = quote!(#scope.with_session(#session));
    }
    scope
}

/// Sync: an RAII guard leaves the scope on return, `?` and unwinding.
fn gen_sync(scope: &TokenStream, block: &TokenStream) -> TokenStream {
    let guard = Ident::new("__llm_trace_guard", Span::mixed_site());
    quote! {
        let #guard = #scope.enter_in_fn();
        #block
    }
}

/// Async: the body becomes an async block run inside the scope on every poll and on drop.
/// A never-taken `return` of the declared type fixes the block's output type, so `?` and
/// `return` infer as they did in the fn body.
///
/// With a static scope (no metadata, no session) the `async fn` becomes a plain fn that
/// returns its body wrapped: `fn f(..) -> impl Future<Output = R> { InFn::<S, _>::new(async
/// move { body }) }`, one state machine, as the `async fn` was, and no bigger (`S`, a unit
/// struct declared in the fn, names the scope). Its arguments are moved into the block as an
/// `async fn` moves them into its future, and the return type is written by a
/// `macro_rules!` of the 2024 edition so that it captures the same lifetimes. Otherwise the
/// `async fn` stays and awaits its wrapped body: a second state machine, whose first poll
/// moves the arguments from one to the other. Otherwise is: a runtime scope (metadata or a
/// session, evaluated on the first poll), `-> !`, or another attribute below this one that
/// may be a macro wanting an `async fn` (`#[tokio::main]`, `#[tokio::test]`, ...).
fn gen_async(
    args: &Args,
    krate: &Path,
    scope: &TokenStream,
    outer_attrs: &[Attribute],
    sig: &mut Signature,
    block: &TokenStream,
) -> TokenStream {
    let fake_return = fake_return(sig);
    let never = matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let keep_async = !is_static(args) || never || !outer_attrs.iter().all(is_builtin);
    let moves = if keep_async { Vec::new() } else { into_plain_fn(krate, sig) };
    let future = quote! {
        async move {
            #(#moves)*
            #fake_return
            #block
        }
    };
    let (items, wrapped) = wrap_future(args, krate, scope, future);
    let awaited = keep_async.then(|| quote!(.await));
    quote!(#items #wrapped #awaited)
}

/// Whether the scope is known at compile time: a `static`, entered without building anything.
fn is_static(args: &Args) -> bool {
    args.metadata.is_empty() && args.session.is_none()
}

/// `future`, wrapped to run inside the scope: statements to put before it, and the wrapped
/// future. A static scope: `InFn` over a unit struct naming the scope, declared by the
/// statements. A runtime one: `scope.instrument(future)`, the scope built by the
/// statements.
fn wrap_future(
    args: &Args,
    krate: &Path,
    scope: &TokenStream,
    future: TokenStream,
) -> (TokenStream, TokenStream) {
    if is_static(args) {
        let ty = Ident::new("__LlmTraceScope", Span::mixed_site());
        let items = quote! {
            struct #ty;
            impl #krate::__private::FnScope for #ty {
                #[inline(always)]
                fn scope() -> &'static #krate::__private::StaticScope {
                    #scope
                }
            }
        };
        (items, quote!(#krate::__private::InFn::<#ty, _>::new(#future)))
    } else {
        let scope_var = Ident::new("__llm_trace_scope", Span::mixed_site());
        (quote!(let #scope_var = #scope;), quote!(#scope_var.instrument(#future)))
    }
}

/// Whether an attribute is one of the compiler's or a tool's (`#[inline]`, `#[doc]`, lint
/// levels, `#[clippy::..]`, ...), as opposed to a macro, which may need to see `async fn`.
fn is_builtin(attr: &Attribute) -> bool {
    const BUILTIN: &[&str] = &[
        "allow",
        "cfg",
        "cold",
        "deny",
        "deprecated",
        "doc",
        "expect",
        "forbid",
        "inline",
        "must_use",
        "track_caller",
        "warn",
    ];
    let path = attr.path();
    match path.segments.first() {
        Some(first) if path.segments.len() > 1 => {
            ["clippy", "rustfmt", "diagnostic"].iter().any(|tool| first.ident == tool)
        }
        Some(only) => BUILTIN.iter().any(|name| only.ident == name),
        None => false,
    }
}

/// Turns an `async fn`'s signature into the plain fn's that returns its future, and returns
/// the statements that move its arguments into the future (`let x = x;`, what `async fn`
/// itself does): without them, an argument the body does not use, or uses a field of,
/// would be dropped when the fn returns rather than when the future ends (outside the scope,
/// too). `mut` moves to the binding inside; a pattern argument is bound to a name, and
/// destructured inside; a reference (`&T`, `&self`) is left to be captured if used.
fn into_plain_fn(krate: &Path, sig: &mut Signature) -> Vec<TokenStream> {
    sig.asyncness = None;
    let (arrow, output) = match &sig.output {
        ReturnType::Type(arrow, ty) => (*arrow, ty.to_token_stream()),
        ReturnType::Default => (Token![->](sig.paren_token.span.close()), quote!(())),
    };
    sig.output = ReturnType::Type(
        arrow,
        Box::new(Type::Verbatim(quote!(#krate::__private::async_fn_output!(#output)))),
    );
    let mut moves = Vec::new();
    for (i, input) in sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let by_value = match &receiver.kind {
                    ReceiverKind::Reference(..) => false,
                    ReceiverKind::Typed(_, ty) => !matches!(**ty, Type::Reference(_)),
                    _ => true,
                };
                if by_value {
                    let self_token = receiver.self_token;
                    moves.push(quote!(let _ = &#self_token;));
                }
            }
            FnArg::Typed(arg) => match &mut *arg.pat {
                // A reference has nothing to drop: the body captures it if it uses it. (Moving
                // it in anyway costs the first poll a copy of what the caller just stored,
                // which the CPU cannot forward from its store buffer: a stall of ~4 ns.)
                Pat::Ident(PatIdent { by_ref: None, mutability: None, subpat: None, .. })
                    if matches!(*arg.ty, Type::Reference(_)) => {}
                Pat::Ident(PatIdent { by_ref: None, mutability, ident, subpat: None, .. }) => {
                    let mutability = mutability.take();
                    moves.push(quote!(let #mutability #ident = #ident;));
                }
                pat => {
                    let name = Ident::new(&format!("__llm_trace_arg{i}"), Span::mixed_site());
                    let pat = std::mem::replace(
                        pat,
                        Pat::Ident(PatIdent {
                            attrs: Vec::new(),
                            by_ref: None,
                            mutability: None,
                            ident: name.clone(),
                            subpat: None,
                        }),
                    );
                    // Moved in first, as `async fn` does: `let _ = arg;` alone would not
                    // capture the argument, which would then be dropped at once.
                    moves.push(quote!(let #name = #name; let #pat = #name;));
                }
            },
        }
    }
    moves
}

fn fake_return(sig: &Signature) -> TokenStream {
    let (ty, span) = match &sig.output {
        // `let x: ! = ..` is unstable; a `-> !` body needs no help to infer.
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => return TokenStream::new(),
        ReturnType::Type(_, ty) => (erase_impl_trait(ty).into_token_stream(), ty.span()),
        ReturnType::Default => (quote!(()), sig.ident.span()),
    };
    let span = Span::mixed_site().located_at(span);
    let var = Ident::new("__llm_trace_return", span);
    quote_spanned! {span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let #var: #ty = loop {};
            return #var;
        }
    }
}

/// `impl Trait` cannot be written in a `let`: `_` infers the same type.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                let span = impl_trait.impl_token.span;
                *ty = syn::parse_quote_spanned!(span=> _);
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty
}

/// The async block a non-async fn returns, as `#[async_trait]` and hand-written
/// `Pin<Box<dyn Future>>` / `impl Future` methods do: the last statement is (or `return`s)
/// `async {..}`, `Box::pin(async {..})`, or `async {..}.boxed()` / `.boxed_local()`.
fn returned_async_block(stmts: &mut [Stmt]) -> Option<&mut Expr> {
    let expr = match stmts.last_mut()? {
        Stmt::Expr(Expr::Return(ret), _) => ret.expr.as_deref_mut()?,
        Stmt::Expr(expr, None) => expr,
        _ => return None,
    };
    async_block_in(expr)
}

fn async_block_in(expr: &mut Expr) -> Option<&mut Expr> {
    match expr {
        Expr::Async(_) => Some(expr),
        Expr::Group(group) => async_block_in(&mut group.expr),
        Expr::Paren(paren) => async_block_in(&mut paren.expr),
        Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => {
            call.args.first_mut().and_then(|arg| match arg {
                Expr::Async(_) => Some(arg),
                _ => None,
            })
        }
        Expr::MethodCall(call)
            if call.args.is_empty() && (call.method == "boxed" || call.method == "boxed_local") =>
        {
            match &mut *call.receiver {
                slot @ Expr::Async(_) => Some(slot),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `Box::pin`, `std::boxed::Box::pin`, `::alloc::boxed::Box::pin`, ...
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let mut segments = path.path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
    )
}

/// The async block an async-trait shaped fn returns, wrapped: statements to put first in the
/// fn, and what replaces the block. A static scope: `InFn::<S, _>::new(async move { body })`.
/// A runtime scope: `async move { let scope = ..; scope.instrument(async move { body })
/// .await }`, so that the scope is built when the returned future is polled, not when it is
/// made.
fn instrument_async_block(
    args: &Args,
    krate: &Path,
    scope: &TokenStream,
    expr: Expr,
) -> (TokenStream, Expr) {
    let Expr::Async(ExprAsync { attrs, async_token, capture, block, .. }) = expr else {
        unreachable!("returned_async_block only finds async blocks")
    };
    let future = quote!(#(#attrs)* #async_token #capture #block);
    let (items, wrapped) = wrap_future(args, krate, scope, future);
    if is_static(args) {
        return (items, syn::parse_quote!(#wrapped));
    }
    (TokenStream::new(), syn::parse_quote!(#async_token #capture { #items #wrapped.await }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        traced_llm(args, item).to_string()
    }

    #[test]
    fn sync_fn_enters_a_guard_around_the_original_block() {
        let out = expand(
            quote!(tags = ["a"]),
            quote!(
                #[doc = "d"]
                pub fn f(x: u32) -> u32 {
                    x + 1
                }
            ),
        );
        assert_eq!(
            out,
            "# [doc = \"d\"] pub fn f (x : u32) -> u32 { \
             let __llm_trace_guard = { \
             static __LLM_TRACE_SCOPE : :: llm_trace :: __private :: StaticScope = \
             :: llm_trace :: __private :: StaticScope :: new (\"f\" , :: core :: module_path ! () , & [\"a\"]) ; \
             & __LLM_TRACE_SCOPE } . enter_in_fn () ; \
             { x + 1 } }"
        );
    }

    #[test]
    fn async_fn_returns_its_instrumented_body_with_the_return_type() {
        let out = expand(
            quote!(),
            quote!(
                async fn f() -> impl Display {
                    1
                }
            ),
        );
        assert!(
            out.starts_with(
                "fn f () -> :: llm_trace :: __private :: async_fn_output ! (impl Display) \
                 { struct __LlmTraceScope ; \
                 impl :: llm_trace :: __private :: FnScope for __LlmTraceScope {"
            ),
            "{out}"
        );
        assert!(out.contains("& __LLM_TRACE_SCOPE } } }"), "{out}");
        assert!(
            out.contains("InFn :: < __LlmTraceScope , _ > :: new (async move { # [allow"),
            "{out}"
        );
        assert!(out.contains("let __llm_trace_return : _ = loop { } ;"), "{out}");
        assert!(out.ends_with("{ 1 } }) }"), "{out}");
    }

    #[test]
    fn async_fn_arguments_move_into_the_future_as_in_an_async_fn() {
        let out = expand(
            quote!(),
            quote!(
                async fn f(self, a: A, mut b: B, (c, d): (C, D), _: E, ref f: F, g: &G) {}
            ),
        );
        assert!(
            out.starts_with(
                "fn f (self , a : A , b : B , __llm_trace_arg3 : (C , D) , \
                 __llm_trace_arg4 : E , __llm_trace_arg5 : F , g : & G) -> \
                 :: llm_trace :: __private :: async_fn_output ! (())"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "async move { let _ = & self ; let a = a ; let mut b = b ; \
                 let __llm_trace_arg3 = __llm_trace_arg3 ; let (c , d) = __llm_trace_arg3 ; \
                 let __llm_trace_arg4 = __llm_trace_arg4 ; let _ = __llm_trace_arg4 ; \
                 let __llm_trace_arg5 = __llm_trace_arg5 ; let ref f = __llm_trace_arg5 ; # [allow"
            ),
            "{out}"
        );
        // By reference, `self` has nothing to drop.
        let out = expand(
            quote!(),
            quote!(
                async fn f(&self) {}
            ),
        );
        assert!(out.contains("async move { # [allow"), "{out}");
    }

    #[test]
    fn async_fn_under_another_attribute_macro_stays_async() {
        let item = quote!(
            #[tokio::test]
            async fn f() {}
        );
        let out = expand(quote!(), item);
        assert!(out.starts_with("# [tokio :: test] async fn f () {"), "{out}");
        let item = quote!(
            #[inline]
            #[cfg(test)]
            #[clippy::cognitive_complexity = "9"]
            /// Docs.
            async fn f() {}
        );
        let out = expand(quote!(), item);
        assert!(out.contains("] fn f () -> :: llm_trace"), "{out}");
    }

    #[test]
    fn async_fn_with_metadata_stays_async_and_awaits_its_body() {
        let out = expand(
            quote!(session = "s"),
            quote!(
                async fn f(a: A) -> u32 {
                    1
                }
            ),
        );
        assert!(out.starts_with("async fn f (a : A) -> u32 {"), "{out}");
        assert!(out.ends_with("{ 1 } }) . await }"), "{out}");
    }

    #[test]
    fn never_returning_async_fn_has_no_fake_return() {
        let out = expand(
            quote!(),
            quote!(
                async fn f() -> ! {
                    loop {}
                }
            ),
        );
        assert!(!out.contains("__llm_trace_return"), "{out}");
    }

    #[test]
    fn async_trait_shape_wraps_the_returned_future() {
        for item in [
            quote!(
                fn f(&self) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
                    Box::pin(async move { 1 })
                }
            ),
            quote!(
                fn f(&self) -> BoxFuture<'_, u32> {
                    let x = 1;
                    std::boxed::Box::pin(async move { x })
                }
            ),
            quote!(
                fn f(&self) -> impl Future<Output = u32> {
                    async move { 1 }
                }
            ),
            quote!(
                fn f(&self) -> BoxFuture<'_, u32> {
                    async move { 1 }.boxed()
                }
            ),
            quote!(
                fn f(&self) -> BoxFuture<'_, u32> {
                    return Box::pin(async move { 1 });
                }
            ),
        ] {
            let out = expand(quote!(), item.clone());
            assert!(!out.contains("__llm_trace_guard"), "{out}");
            assert!(out.contains("{ struct __LlmTraceScope ;"), "{out}");
            assert!(out.contains("InFn :: < __LlmTraceScope , _ > :: new (async move {"), "{out}");
            // With a runtime scope, built when the future is first polled.
            let out = expand(quote!(session = "s"), item);
            assert!(out.contains("async move { let __llm_trace_scope = "), "{out}");
            assert!(out.contains("__llm_trace_scope . instrument (async move {"), "{out}");
        }
        // A sync fn returning something else is sync.
        let out = expand(
            quote!(),
            quote!(
                fn f() -> Pin<Box<u32>> {
                    Box::pin(1)
                }
            ),
        );
        assert!(out.contains("__llm_trace_guard"), "{out}");
    }

    #[test]
    fn arguments_become_scope_builders() {
        let out = expand(
            quote!(name = "renamed", metadata(user = user.id, n = 3), session = s, crate = my::lt),
            quote!(
                fn r#type(user: &User, s: &str) {}
            ),
        );
        assert!(out.contains("my :: lt :: __private :: Scope :: new (\"renamed\""), "{out}");
        assert!(out.contains(". with_metadata (\"user\" , { # [allow (unused_imports)] use my :: lt :: __private :: { MetaViaDisplay as _ , MetaViaSerialize as _ } ; my :: lt :: __private :: MetaValue (& (user . id)) . __llm_trace_meta () })"), "{out}");
        assert!(out.contains(". with_session (s) . enter_in_fn ()"), "{out}");
        assert!(!out.contains("StaticScope"), "metadata and session are runtime values: {out}");
        let only_metadata = expand(
            quote!(metadata(n = 3)),
            quote!(
                fn f() {}
            ),
        );
        assert!(only_metadata.contains("__private :: Scope :: new (\"f\""), "{only_metadata}");
        let only_session = expand(
            quote!(session = s),
            quote!(
                fn f(s: &str) {}
            ),
        );
        assert!(only_session.contains("__private :: Scope :: new (\"f\""), "{only_session}");
        let out = expand(
            quote!(),
            quote!(
                fn r#type() {}
            ),
        );
        assert!(out.contains("StaticScope :: new (\"type\""), "{out}");
    }

    #[test]
    fn rewriting_can_be_turned_off() {
        let item = quote!(
            fn f(c: &C) -> u32 {
                c.chat().create(1)
            }
        );
        assert!(expand(quote!(), item.clone()).contains("Rewrite :: new (c . chat ())"));
        assert!(!expand(quote!(rewrite = false), item).contains("Rewrite"));
    }

    #[test]
    fn errors_come_with_the_original_item() {
        let item = quote!(
            fn f() -> u32 {
                1
            }
        );
        let out = expand(quote!(tag = ["a"]), item.clone());
        assert!(out.starts_with("fn f () -> u32 { 1 } :: core :: compile_error ! {"), "{out}");
        let out = expand(
            quote!(bogus = 1),
            quote!(
                const fn f() {}
            ),
        );
        assert!(out.starts_with("const fn f () { }"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        let out = expand(
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(out.starts_with("struct S ;"), "{out}");
    }

    #[test]
    fn unparsable_bodies_are_wrapped_without_rewriting() {
        let mut item = quote!(fn f() -> u32);
        item.extend(std::iter::once(proc_macro2::TokenTree::Group(proc_macro2::Group::new(
            proc_macro2::Delimiter::Brace,
            quote!(let x = ; c.chat().create(1)),
        ))));
        let out = expand(quote!(), item);
        assert!(out.contains("__llm_trace_guard"), "{out}");
        assert!(!out.contains("Rewrite"), "{out}");
    }
}

//! The item `#[traced_llm]` is put on: a function with a body, kept token for token.

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser as _};
use syn::{Attribute, Block, Signature, Stmt, Token, Visibility, token};

/// A function with a body. Parsed like `syn::ItemFn`, but also accepted in positions where
/// an `ItemFn` is not (methods in impls and traits), and with a fallback for bodies that syn
/// cannot parse.
pub(crate) struct TracedFn {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) brace_token: token::Brace,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) body: Body,
}

/// The statements of the function body.
pub(crate) enum Body {
    /// Parsed: call sites can be rewritten and async-trait shapes detected.
    Parsed(Vec<Stmt>),
    /// Syntax this version of syn does not know: wrapped as it is, nothing rewritten.
    Raw(TokenStream),
}

impl TracedFn {
    /// Parses the annotated item, with an error that says what is wrong when it is not a
    /// function the attribute can trace.
    pub(crate) fn parse(item: TokenStream) -> syn::Result<TracedFn> {
        parse_fn.parse2(item)
    }
}

fn parse_fn(input: ParseStream<'_>) -> syn::Result<TracedFn> {
    let outer_attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    let sig: Signature = match input.fork().parse::<Signature>() {
        Ok(_) => input.parse()?,
        Err(_) => return Err(not_a_function(input)),
    };
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[traced_llm] cannot be used on a `const fn`: the call context is entered at run \
             time, which a const fn cannot do. Remove `const`, or remove the attribute",
        ));
    }
    if input.peek(Token![;]) {
        return Err(syn::Error::new(
            input.span(),
            format!(
                "#[traced_llm] needs a function body to wrap, and `{}` has none: put the \
                 attribute on the function in each impl instead (or give this one a default body)",
                sig.ident
            ),
        ));
    }
    let content;
    let brace_token = syn::braced!(content in input);
    let inner_attrs = content.call(Attribute::parse_inner)?;
    let tokens: TokenStream = content.parse()?;
    let body = match Block::parse_within.parse2(tokens.clone()) {
        Ok(stmts) => Body::Parsed(stmts),
        Err(_) => Body::Raw(tokens),
    };
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after the function body"));
    }
    Ok(TracedFn { outer_attrs, vis, sig, brace_token, inner_attrs, body })
}

fn not_a_function(input: ParseStream<'_>) -> syn::Error {
    let (span, found) = match input.cursor().token_tree() {
        Some((TokenTree::Group(g), _)) => (g.span_open(), "a group".to_owned()),
        Some((tt, _)) => (tt.span(), format!("`{tt}`")),
        None => (input.span(), "nothing".to_owned()),
    };
    syn::Error::new(
        span,
        format!(
            "#[traced_llm] can only be used on a function with a body (`fn` or `async fn`), \
             found {found}: for the methods of an impl block, put it on each method"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(item: TokenStream) -> String {
        match TracedFn::parse(item) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn functions_methods_and_trait_defaults_parse() {
        for item in [
            quote!(
                fn f() {}
            ),
            quote!(
                #[inline]
                pub(crate) async unsafe fn f<'a, T: Clone>(x: &'a T) -> T
                where
                    T: Copy,
                {
                    *x
                }
            ),
            quote!(
                fn method(&mut self, x: impl Into<String>) -> impl Iterator<Item = u8> {
                    todo!()
                }
            ),
            quote!(
                pub extern "C" fn f(x: i32) -> i32 {
                    x
                }
            ),
        ] {
            let f = TracedFn::parse(item).unwrap();
            assert!(matches!(f.body, Body::Parsed(_)));
        }
    }

    #[test]
    fn inner_attributes_are_kept_apart() {
        let f = TracedFn::parse(quote!(
            fn f() {
                #![allow(unused)]
                let x = 1;
            }
        ))
        .unwrap();
        assert_eq!(f.inner_attrs.len(), 1);
        let Body::Parsed(stmts) = f.body else { panic!() };
        assert_eq!(stmts.len(), 1);
    }

    #[test]
    fn const_fn_is_an_error() {
        assert!(
            error(quote!(
                const fn f() {}
            ))
            .starts_with("#[traced_llm] cannot be used on a `const fn`")
        );
    }

    #[test]
    fn other_items_are_errors() {
        let e = error(quote!(
            #[derive(Debug)]
            pub struct S;
        ));
        assert!(e.starts_with("#[traced_llm] can only be used on a function with a body"), "{e}");
        assert!(e.contains("found `struct`"), "{e}");
        assert!(error(quote!(impl S {})).contains("found `impl`"));
        assert!(
            error(quote!(
                fn f();
            ))
            .starts_with("#[traced_llm] needs a function body")
        );
    }
}

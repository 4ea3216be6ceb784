//! Call-site rewriting: `<recv>.chat().create(..)`, `<recv>.chat().create_stream(..)` and
//! `<recv>.embeddings().create(..)` written in the annotated body get their `<recv>.chat()`
//! (or `.embeddings()`) passed through `__private::Rewrite`, which swaps async-openai's
//! `Chat`/`Embeddings` for the traced wrapper and hands any other type back unchanged.
//!
//! What is visited: every expression of the body, including closures and async blocks, and
//! the arguments of `join!`/`try_join!` invocations. What is not: nested items (a `fn`
//! defined inside the body is not part of the traced function) and the arguments of any
//! other macro (a macro may match on or stringify its input, so it is left exactly as
//! written).

use proc_macro2::Span;
use quote::ToTokens as _;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprMethodCall, Item, Macro, Path, Stmt, Token};

/// Rewrites the LLM call sites in `stmts`, returning how many were rewritten.
pub(crate) fn rewrite_stmts(stmts: &mut [Stmt], krate: &Path) -> usize {
    let mut rewriter = Rewriter { krate, rewritten: 0 };
    for stmt in stmts {
        rewriter.visit_stmt_mut(stmt);
    }
    rewriter.rewritten
}

struct Rewriter<'a> {
    krate: &'a Path,
    rewritten: usize,
}

/// Macros whose arguments are plain comma-separated expressions (futures to poll together).
const EXPRESSION_MACROS: &[&str] = &["join", "try_join"];

impl VisitMut for Rewriter<'_> {
    fn visit_item_mut(&mut self, _item: &mut Item) {
        // A nested item is not part of the annotated function: leave it as written.
    }

    fn visit_expr_method_call_mut(&mut self, call: &mut ExprMethodCall) {
        // Receiver and arguments first, so nested calls are rewritten too.
        visit_mut::visit_expr_method_call_mut(self, call);
        if !is_llm_call(call) {
            return;
        }
        let inner = std::mem::replace(&mut *call.receiver, Expr::PLACEHOLDER);
        // Generated tokens resolve at the macro's call site (so lints treat them as macro
        // output) but are located at the user's `.chat()`, so errors point there.
        let span = Span::call_site().located_at(inner.span());
        let krate = self.krate;
        *call.receiver = syn::parse_quote_spanned! {span=>
            {
                #[allow(unused_imports)]
                use #krate::__private::{ViaOriginal as _, ViaTraced as _};
                #krate::__private::Rewrite::new(#inner).__llm_trace_rewrite()
            }
        };
        self.rewritten += 1;
    }

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        let Some(last) = mac.path.segments.last() else { return };
        if !EXPRESSION_MACROS.iter().any(|name| last.ident == name) {
            return;
        }
        let Ok(mut exprs) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
        else {
            // Some other syntax (`tokio::join!(biased; ...)`, or a different macro of the
            // same name): leave it alone.
            return;
        };
        let before = self.rewritten;
        for expr in exprs.iter_mut() {
            self.visit_expr_mut(expr);
        }
        if self.rewritten != before {
            mac.tokens = exprs.into_token_stream();
        }
    }
}

/// `<recv>.chat().create(..)`, `<recv>.chat().create_stream(..)` or
/// `<recv>.embeddings().create(..)`, the inner call without arguments or turbofish.
fn is_llm_call(call: &ExprMethodCall) -> bool {
    let Expr::MethodCall(inner) = &*call.receiver else { return false };
    if !inner.args.is_empty() || inner.turbofish.is_some() || !inner.attrs.is_empty() {
        return false;
    }
    if inner.method == "chat" {
        call.method == "create" || call.method == "create_stream"
    } else if inner.method == "embeddings" {
        call.method == "create"
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    /// Rewrites a block's statements and prints them, with the generated wrapper shown as
    /// `R(..)` so the expectations stay readable.
    fn rewrite(tokens: proc_macro2::TokenStream) -> (usize, String) {
        let mut block: syn::Block = syn::parse2(quote!({ #tokens })).unwrap();
        let krate: Path = syn::parse_quote!(::llm_trace);
        let n = rewrite_stmts(&mut block.stmts, &krate);
        let text = block.stmts.iter().map(|s| s.to_token_stream().to_string()).collect::<Vec<_>>();
        let text = text.join(" ").replace(
            "{ # [allow (unused_imports)] use :: llm_trace :: __private :: { ViaOriginal as _ , ViaTraced as _ } ; :: llm_trace :: __private :: Rewrite :: new (",
            "R(",
        );
        (n, text.replace(") . __llm_trace_rewrite () }", ")"))
    }

    #[test]
    fn the_three_shapes_are_rewritten() {
        assert_eq!(
            rewrite(quote!(let r = client.chat().create(req).await?;)),
            (1, "let r = R(client . chat ()) . create (req) . await ? ;".to_owned())
        );
        assert_eq!(
            rewrite(quote!(self.client.chat().create_stream(req).await)).1,
            "R(self . client . chat ()) . create_stream (req) . await"
        );
        assert_eq!(
            rewrite(quote!(c.embeddings().create(req))).1,
            "R(c . embeddings ()) . create (req)"
        );
    }

    #[test]
    fn look_alike_shapes_are_left_alone() {
        for tokens in [
            quote!(c.embeddings().create_stream(req)),
            quote!(c.chat(1).create(req)),
            quote!(c.chat::<u8>().create(req)),
            quote!(c.chat().complete(req)),
            quote!(c.chat.create(req)),
            quote!(c.completions().create(req)),
            quote!((c.chat()).create(req)),
            quote!(let chat = c.chat(); chat.create(req)),
            quote!(chat().create(req)),
        ] {
            let (n, _) = rewrite(tokens.clone());
            assert_eq!(n, 0, "{tokens}");
        }
    }

    #[test]
    fn receivers_and_arguments_are_rewritten_too() {
        let (n, text) = rewrite(quote!(a.chat().create(b.chat().create(x)).chat().create(y)));
        assert_eq!(n, 3);
        assert_eq!(
            text,
            "R(R(a . chat ()) . create (R(b . chat ()) . create (x)) . chat ()) . create (y)"
        );
    }

    #[test]
    fn closures_and_async_blocks_are_rewritten() {
        let (n, _) = rewrite(quote! {
            let f = |x| c.chat().create(x);
            let g = async move { c.chat().create(1).await };
            if c.chat().create(2) == 3 { c.embeddings().create(4); }
        });
        assert_eq!(n, 4);
    }

    #[test]
    fn nested_items_are_not_rewritten() {
        let (n, text) = rewrite(quote! {
            fn helper(c: &Client) -> u32 { c.chat().create(1) }
            impl Foo { fn m(&self) { self.c.chat().create(2); } }
            mod m { fn f() { c.chat().create(3); } }
            const X: () = { c.chat().create(4); };
            helper(c)
        });
        assert_eq!(n, 0, "{text}");
    }

    #[test]
    fn join_arguments_are_rewritten_and_other_macros_are_not() {
        let (n, text) = rewrite(quote! {
            let (a, b) = tokio::join!(c.chat().create(1), c.embeddings().create(2),);
        });
        assert_eq!(n, 2);
        assert!(text.contains("tokio :: join ! (R(c . chat ()) . create (1) , R(c . embeddings ()) . create (2) ,)"), "{text}");
        assert_eq!(rewrite(quote!(futures::try_join!(c.chat().create(1));)).0, 1);
        assert_eq!(rewrite(quote!(tokio::join!(biased; c.chat().create(1));)).0, 0);
        assert_eq!(rewrite(quote!(assert!(c.chat().create(1) == 2);)).0, 0);
        assert_eq!(rewrite(quote!(println!("{}", c.chat().create(1));)).0, 0);
        // A join! without any LLM call keeps its exact tokens.
        let (n, text) = rewrite(quote!(tokio::join!(a, b);));
        assert_eq!((n, text.as_str()), (0, "tokio :: join ! (a , b) ;"));
    }

    #[test]
    fn a_rewritten_call_at_the_start_of_a_statement_stays_a_method_call() {
        // `{ .. }.create(x);` would parse as a block statement followed by `.create(x)`: the
        // printer must parenthesize the block.
        let mut block: syn::Block = syn::parse2(quote!({
            c.chat().create(1);
            x
        }))
        .unwrap();
        rewrite_stmts(&mut block.stmts, &syn::parse_quote!(::llm_trace));
        let printed = block.to_token_stream().to_string();
        let reparsed: syn::Block = syn::parse_str(&printed).unwrap();
        assert_eq!(reparsed.stmts.len(), 2, "{printed}");
        assert!(
            matches!(&reparsed.stmts[0], Stmt::Expr(Expr::MethodCall(_), Some(_))),
            "{printed}"
        );
    }
}

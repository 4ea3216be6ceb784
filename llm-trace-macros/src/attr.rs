//! The arguments of `#[traced_llm(...)]`, parsed into typed values.
//!
//! Every error points at the offending token and says what to write instead.

use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitBool, LitStr, Path, Token};

/// The argument names, in the order the documentation lists them.
const ARGUMENTS: &[&str] = &["name", "tags", "metadata", "session", "rewrite", "crate"];

/// How each argument is written, for error messages.
const USAGE: &str = "`name = \"...\"`, `tags = [\"...\", ...]`, `metadata(key = value, ...)`, \
                     `session = expr`, `rewrite = false`, `crate = path`";

/// `#[traced_llm(name = "...", tags = [...], metadata(k = v), session = e, rewrite = b,
/// crate = path)]`, every argument optional.
#[derive(Default)]
pub(crate) struct Args {
    /// `name = "..."`: the recorded function name instead of the fn's ident.
    pub(crate) name: Option<LitStr>,
    /// `tags = ["a", "b"]`.
    pub(crate) tags: Vec<LitStr>,
    /// `metadata(key = expr, ...)`, in the order written.
    pub(crate) metadata: Vec<MetadataEntry>,
    /// `session = expr`.
    pub(crate) session: Option<Expr>,
    /// `rewrite = false` turns call-site rewriting off.
    pub(crate) rewrite: Option<LitBool>,
    /// `crate = path`: where the facade is, for crates that re-export it.
    pub(crate) krate: Option<Path>,
}

/// One `key = value` of `metadata(...)`.
pub(crate) struct MetadataEntry {
    /// The key, as a string literal spanned at the key the user wrote.
    pub(crate) key: LitStr,
    /// Evaluated when the function is entered.
    pub(crate) value: Expr,
}

impl Args {
    /// Whether call sites are rewritten (the default).
    pub(crate) fn rewrite(&self) -> bool {
        self.rewrite.as_ref().is_none_or(|b| b.value)
    }

    /// The path to the facade: `crate = path`, or `::llm_trace`.
    pub(crate) fn krate(&self) -> Path {
        match &self.krate {
            Some(path) => path.clone(),
            None => syn::parse_quote!(::llm_trace),
        }
    }
}

impl Parse for Args {
    /// Parses every argument, and on a bad one goes on with the next (past the next `,`), so
    /// that one compile shows every mistake, each at its token.
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut args = Args::default();
        let mut seen: Vec<Ident> = Vec::new();
        let mut errors: Option<syn::Error> = None;
        while !input.is_empty() {
            let parsed = args.parse_one(input, &mut seen).and_then(|()| {
                if input.is_empty() || input.peek(Token![,]) {
                    return Ok(());
                }
                let (span, found) = next_token(input);
                Err(syn::Error::new(span, format!("expected `,` between arguments, found {found}")))
            });
            if let Err(error) = parsed {
                match &mut errors {
                    Some(errors) => errors.combine(error),
                    None => errors = Some(error),
                }
                // Skip what is left of this argument.
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<TokenTree>()?;
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

impl Args {
    /// One `key = value` (or `metadata(..)`), into `self`.
    fn parse_one(&mut self, input: ParseStream<'_>, seen: &mut Vec<Ident>) -> syn::Result<()> {
        let key = match input.call(Ident::parse_any) {
            Ok(key) => key.unraw(),
            Err(_) => {
                let (span, found) = next_token(input);
                return Err(syn::Error::new(
                    span,
                    format!("expected an argument, found {found}; #[traced_llm] takes {USAGE}"),
                ));
            }
        };
        let name = key.to_string();
        if !ARGUMENTS.contains(&name.as_str()) {
            return Err(unknown_argument(&key));
        }
        if seen.contains(&key) {
            return Err(syn::Error::new(
                key.span(),
                format!("duplicate argument `{name}`: give each argument once"),
            ));
        }
        seen.push(key.clone());
        match name.as_str() {
            "name" => {
                expect_eq(input, &key, "name = \"classify_ticket\"")?;
                self.name = Some(parse_name(input)?);
            }
            "tags" => {
                expect_eq(input, &key, "tags = [\"support\", \"billing\"]")?;
                self.tags = parse_tags(input)?;
            }
            "metadata" => self.metadata = parse_metadata(input, &key)?,
            "session" => {
                expect_eq(input, &key, "session = request.session_id.as_str()")?;
                self.session = Some(parse_expr(
                    input,
                    "expected an expression for the session id, like \
                     `session = request.session_id.as_str()`",
                )?);
            }
            "rewrite" => {
                expect_eq(input, &key, "rewrite = false")?;
                self.rewrite = Some(parse_bool(input)?);
            }
            "crate" => {
                expect_eq(input, &key, "crate = my_facade::llm_trace")?;
                self.krate = Some(parse_crate_path(input)?);
            }
            _ => unreachable!("every name in ARGUMENTS is handled"),
        }
        Ok(())
    }
}

/// After an item of a bracketed list: `Ok(true)` at the end of the list, `Ok(false)` once past
/// the `,` that follows the item, an error made by `message` (from what was found) otherwise.
fn end_or_comma(
    content: ParseStream<'_>,
    message: impl FnOnce(&str) -> String,
) -> syn::Result<bool> {
    if content.is_empty() {
        return Ok(true);
    }
    if !content.peek(Token![,]) {
        let (span, found) = next_token(content);
        return Err(syn::Error::new(span, message(&found)));
    }
    content.parse::<Token![,]>()?;
    Ok(false)
}

/// The span and a description of the next token, for errors.
fn next_token(input: ParseStream<'_>) -> (Span, String) {
    match input.cursor().token_tree() {
        Some((tt, _)) => {
            let text = match &tt {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                        proc_macro2::Delimiter::Brace => ("{", "}"),
                        proc_macro2::Delimiter::Bracket => ("[", "]"),
                        proc_macro2::Delimiter::None => ("", ""),
                    };
                    format!("`{open}...{close}`")
                }
                other => format!("`{other}`"),
            };
            (tt.span(), text)
        }
        None => (input.span(), "the end of the arguments".to_owned()),
    }
}

fn unknown_argument(key: &Ident) -> syn::Error {
    let name = key.to_string();
    let suggestion = ARGUMENTS
        .iter()
        .find(|candidate| is_close(&name, candidate))
        .map(|candidate| format!("did you mean `{candidate}`? "))
        .unwrap_or_default();
    syn::Error::new(
        key.span(),
        format!("unknown argument `{name}`: {suggestion}#[traced_llm] takes {USAGE}"),
    )
}

/// A likely typo of `candidate`: a prefix of it (or it of `name`), or one or two edits away.
fn is_close(name: &str, candidate: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name.len() >= 3 && (candidate.starts_with(&name) || name.starts_with(candidate)) {
        return true;
    }
    edit_distance(&name, candidate) <= 2
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn expect_eq(input: ParseStream<'_>, key: &Ident, example: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return Ok(());
    }
    let (span, found) = next_token(input);
    // At the end of the arguments, point at the argument itself.
    let span = if input.is_empty() { key.span() } else { span };
    Err(syn::Error::new(
        span,
        format!("expected `=` after `{key}`, found {found}: write `{example}`"),
    ))
}

fn parse_name(input: ParseStream<'_>) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        let name: LitStr = input.parse()?;
        if name.value().is_empty() {
            return Err(syn::Error::new(
                name.span(),
                "the name must not be empty: write `name = \"classify_ticket\"`, or leave \
                 `name` out to record the function's own name",
            ));
        }
        return Ok(name);
    }
    let (span, found) = next_token(input);
    Err(syn::Error::new(
        span,
        format!(
            "expected a string literal for `name`, found {found}: write `name = {}`",
            quoted_suggestion(input, "classify_ticket")
        ),
    ))
}

/// `"x"` when the next token is the identifier or literal `x`, else `"fallback"`.
fn quoted_suggestion(input: ParseStream<'_>, fallback: &str) -> String {
    let text = match input.cursor().token_tree() {
        Some((TokenTree::Ident(ident), _)) => ident.to_string(),
        Some((TokenTree::Literal(lit), _)) => {
            let text = lit.to_string();
            text.trim_matches('\'').trim_matches('"').to_owned()
        }
        _ => fallback.to_owned(),
    };
    format!("{text:?}")
}

fn parse_tags(input: ParseStream<'_>) -> syn::Result<Vec<LitStr>> {
    const EXAMPLE: &str = "tags = [\"support\", \"billing\"]";
    if !input.peek(syn::token::Bracket) {
        let (span, found) = next_token(input);
        let example = if input.peek(LitStr) {
            format!("tags = [{}]", quoted_suggestion(input, "support"))
        } else {
            EXAMPLE.to_owned()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "expected a list of string literals for `tags`, found {found}: write `{example}`"
            ),
        ));
    }
    let content;
    syn::bracketed!(content in input);
    let mut tags = Vec::new();
    while !content.is_empty() {
        if content.peek(LitStr) {
            tags.push(content.parse::<LitStr>()?);
        } else {
            let (span, found) = next_token(&content);
            return Err(syn::Error::new(
                span,
                format!(
                    "tags must be string literals, found {found}: write {}",
                    quoted_suggestion(&content, "support")
                ),
            ));
        }
        if end_or_comma(&content, |found| {
            format!("expected `,` between tags, found {found}: write `{EXAMPLE}`")
        })? {
            break;
        }
    }
    Ok(tags)
}

fn parse_metadata(input: ParseStream<'_>, key: &Ident) -> syn::Result<Vec<MetadataEntry>> {
    const EXAMPLE: &str = "metadata(ticket = ticket.id, priority = \"high\")";
    if !input.peek(syn::token::Paren) {
        let (span, found) = next_token(input);
        return Err(syn::Error::new(
            if input.peek(Token![=]) { key.span() } else { span },
            format!("expected `(` after `metadata`, found {found}: write `{EXAMPLE}`"),
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let mut entries: Vec<MetadataEntry> = Vec::new();
    while !content.is_empty() {
        let key = if content.peek(LitStr) {
            content.parse::<LitStr>()?
        } else if let Ok(ident) = content.call(Ident::parse_any) {
            LitStr::new(&ident.unraw().to_string(), ident.span())
        } else {
            let (span, found) = next_token(&content);
            return Err(syn::Error::new(
                span,
                format!(
                    "expected a metadata key (an identifier or a string literal), found \
                     {found}: write `{EXAMPLE}`"
                ),
            ));
        };
        if entries.iter().any(|e| e.key.value() == key.value()) {
            return Err(syn::Error::new(
                key.span(),
                format!("duplicate metadata key `{}`: give each key once", key.value()),
            ));
        }
        if !content.peek(Token![=]) {
            let (span, found) = next_token(&content);
            let span = if content.is_empty() { key.span() } else { span };
            let name = key.value();
            return Err(syn::Error::new(
                span,
                format!(
                    "expected `=` after the metadata key `{name}`, found {found}: write \
                     `metadata({name} = value)`"
                ),
            ));
        }
        content.parse::<Token![=]>()?;
        let value = parse_expr(
            &content,
            &format!("expected an expression for the metadata value, like `{EXAMPLE}`"),
        )?;
        entries.push(MetadataEntry { key, value });
        if end_or_comma(&content, |found| {
            format!("expected `,` between metadata entries, found {found}")
        })? {
            break;
        }
    }
    Ok(entries)
}

fn parse_expr(input: ParseStream<'_>, message: &str) -> syn::Result<Expr> {
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(next_token(input).0, message));
    }
    input.parse()
}

fn parse_bool(input: ParseStream<'_>) -> syn::Result<LitBool> {
    if input.peek(LitBool) {
        return input.parse();
    }
    let (span, found) = next_token(input);
    Err(syn::Error::new(
        span,
        format!(
            "expected `true` or `false` for `rewrite`, found {found}: write `rewrite = false` to \
             turn call-site rewriting off (it is on by default)"
        ),
    ))
}

fn parse_crate_path(input: ParseStream<'_>) -> syn::Result<Path> {
    let message = |found: &str| {
        format!(
            "expected a path to the llm-trace crate for `crate`, found {found}: write \
             `crate = my_facade::llm_trace`"
        )
    };
    if input.peek(LitStr) {
        // `crate = "path"`, as serde and tokio write it.
        let lit: LitStr = input.parse()?;
        return lit
            .parse_with(Path::parse_mod_style)
            .map(|mut path| {
                respan_path(&mut path, lit.span());
                path
            })
            .map_err(|_| syn::Error::new(lit.span(), message(&format!("{:?}", lit.value()))));
    }
    let fork = input.fork();
    if fork.call(Path::parse_mod_style).is_ok() && (fork.is_empty() || fork.peek(Token![,])) {
        return input.call(Path::parse_mod_style);
    }
    let (span, found) = next_token(input);
    Err(syn::Error::new(span, message(&found)))
}

fn respan_path(path: &mut Path, span: Span) {
    if let Some(colon) = &mut path.leading_colon {
        colon.spans = [span; 2];
    }
    for segment in path.segments.iter_mut() {
        segment.ident.set_span(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens as _, quote};

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
        syn::parse2(tokens)
    }

    fn error(tokens: proc_macro2::TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// Every error, when there are several.
    fn errors(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match parse(tokens) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn no_arguments() {
        let args = parse(quote!()).unwrap();
        assert!(args.name.is_none() && args.tags.is_empty() && args.metadata.is_empty());
        assert!(args.session.is_none() && args.krate.is_none());
        assert!(args.rewrite());
        assert_eq!(args.krate().to_token_stream().to_string(), ":: llm_trace");
    }

    #[test]
    fn every_argument() {
        let args = parse(quote!(
            name = "classify",
            tags = ["a", "b",],
            metadata(user = user.id, "dashed-key" = 3, r#type = "x"),
            session = req.session(),
            rewrite = false,
            crate = ::facade::llm_trace,
        ))
        .unwrap();
        assert_eq!(args.name.unwrap().value(), "classify");
        assert_eq!(args.tags.iter().map(LitStr::value).collect::<Vec<_>>(), ["a", "b"]);
        let keys: Vec<_> = args.metadata.iter().map(|e| e.key.value()).collect();
        assert_eq!(keys, ["user", "dashed-key", "type"]);
        assert_eq!(args.metadata[0].value.to_token_stream().to_string(), "user . id");
        assert_eq!(args.session.unwrap().to_token_stream().to_string(), "req . session ()");
        assert!(!args.rewrite.as_ref().unwrap().value);
        assert_eq!(args.krate.unwrap().to_token_stream().to_string(), ":: facade :: llm_trace");
    }

    #[test]
    fn empty_lists_and_rewrite_true() {
        let args = parse(quote!(tags = [], metadata(), rewrite = true)).unwrap();
        assert!(args.tags.is_empty() && args.metadata.is_empty() && args.rewrite());
    }

    #[test]
    fn crate_as_string_literal_or_crate_relative_path() {
        let args = parse(quote!(crate = "my::reexport")).unwrap();
        assert_eq!(args.krate.unwrap().to_token_stream().to_string(), "my :: reexport");
        let args = parse(quote!(crate = crate::shim)).unwrap();
        assert_eq!(args.krate.unwrap().to_token_stream().to_string(), "crate :: shim");
    }

    #[test]
    fn unknown_argument_lists_the_arguments_and_suggests() {
        let e = error(quote!(tag = ["a"]));
        assert!(e.starts_with("unknown argument `tag`: did you mean `tags`?"), "{e}");
        assert!(e.contains("`metadata(key = value, ...)`") && e.contains("`crate = path`"), "{e}");
        let e = error(quote!(level = "info"));
        assert!(e.starts_with("unknown argument `level`: #[traced_llm] takes"), "{e}");
        let e = error(quote!(sesion = x));
        assert!(e.contains("did you mean `session`?"), "{e}");
    }

    #[test]
    fn positional_argument() {
        let e = error(quote!("classify"));
        assert!(e.starts_with("expected an argument, found `\"classify\"`"), "{e}");
    }

    #[test]
    fn duplicate_argument() {
        let e = error(quote!(tags = ["a"], name = "n", tags = ["b"]));
        assert_eq!(e, "duplicate argument `tags`: give each argument once");
    }

    #[test]
    fn tags_must_be_a_list_of_string_literals() {
        let e = error(quote!(tags = "a"));
        assert!(e.contains("write `tags = [\"a\"]`"), "{e}");
        let e = error(quote!(tags = [support, "b"]));
        assert_eq!(e, "tags must be string literals, found `support`: write \"support\"");
        let e = error(quote!(tags = ["a", 3]));
        assert_eq!(e, "tags must be string literals, found `3`: write \"3\"");
        let e = error(quote!(tags = ["a" "b"]));
        assert!(e.starts_with("expected `,` between tags"), "{e}");
        let e = error(quote!(tags));
        assert!(e.contains("write `tags = [\"support\", \"billing\"]`"), "{e}");
    }

    #[test]
    fn name_must_be_a_non_empty_string_literal() {
        let e = error(quote!(name = classify));
        assert!(e.ends_with("write `name = \"classify\"`"), "{e}");
        let e = error(quote!(name = ""));
        assert!(e.starts_with("the name must not be empty"), "{e}");
    }

    #[test]
    fn metadata_needs_parentheses_keys_and_values() {
        let e = error(quote!(metadata = x));
        assert!(e.starts_with("expected `(` after `metadata`"), "{e}");
        let e = error(quote!(metadata(user)));
        assert!(e.contains("write `metadata(user = value)`"), "{e}");
        let e = error(quote!(metadata(a = 1, a = 2)));
        assert_eq!(e, "duplicate metadata key `a`: give each key once");
        let e = error(quote!(metadata(a = 1 b = 2)));
        assert_eq!(e, "expected `,` between metadata entries, found `b`");
        let e = error(quote!(metadata(a = )));
        assert!(e.starts_with("expected an expression for the metadata value"), "{e}");
        let e = error(quote!(metadata(3 = 1)));
        assert!(e.starts_with("expected a metadata key"), "{e}");
    }

    #[test]
    fn rewrite_must_be_a_bool() {
        let e = error(quote!(rewrite = maybe));
        assert!(e.starts_with("expected `true` or `false` for `rewrite`, found `maybe`"), "{e}");
        let e = error(quote!(rewrite = "false"));
        assert!(e.starts_with("expected `true` or `false`"), "{e}");
    }

    #[test]
    fn crate_must_be_a_path() {
        let e = error(quote!(crate = 3));
        assert!(e.starts_with("expected a path to the llm-trace crate for `crate`, found `3`"));
        let e = error(quote!(crate = "not a path"));
        assert!(e.contains("found \"not a path\""), "{e}");
        let e = error(quote!(crate = a::b<T>));
        assert!(e.starts_with("expected a path"), "{e}");
    }

    #[test]
    fn session_needs_an_expression_and_arguments_need_commas() {
        let e = error(quote!(session = , name = "x"));
        assert!(e.starts_with("expected an expression for the session id"), "{e}");
        let e = error(quote!(name = "a" tags = []));
        assert_eq!(e, "expected `,` between arguments, found `tags`");
        let e = error(quote!(name "a"));
        assert!(e.starts_with("expected `=` after `name`, found `\"a\"`"), "{e}");
    }

    #[test]
    fn every_bad_argument_is_reported_each_at_its_token() {
        let three = errors(quote!(nmae = "x", tags = [1], rewrite = false, tags = ["a"] x));
        assert_eq!(three.len(), 3, "{three:#?}");
        assert!(
            three[0].starts_with("unknown argument `nmae`: did you mean `name`?"),
            "{three:#?}"
        );
        assert!(three[1].contains("string literal"), "{three:#?}");
        // `tags` was seen once, even though its value was bad.
        assert_eq!(three[2], "duplicate argument `tags`: give each argument once");
        // A bad argument does not hide a missing comma after a good one.
        let two = errors(quote!(tags = [2], name = "a" session = s));
        assert_eq!(two.len(), 2, "{two:#?}");
        assert_eq!(two[1], "expected `,` between arguments, found `session`");
    }

    #[test]
    fn close_names() {
        assert!(is_close("tag", "tags"));
        assert!(is_close("metdata", "metadata"));
        assert!(is_close("Name", "name"));
        assert!(!is_close("level", "tags"));
        assert!(!is_close("skip", "name"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}

//! `#[RateLimit::per_user(100, per = "1m", burst = 100, fail = "open")]`, `per_ip(...)`,
//! `per_key(key = "arg.field", ...)` and `global(...)` on an async function: the
//! arguments, and where the function's key comes from, every error spanned at the user's
//! code. Validation collects every mistake (`cell_core::macros::Errors`).

use cell_core::macros::Errors;
use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Pat, ReturnType, Token, Type};

use crate::declare::{Fail, Scope};
use crate::rate::{MAX_LIMIT, parse_period};

/// The attribute's arguments, validated.
#[derive(Debug, Clone)]
pub struct Args {
    pub limit: u64,
    pub per_secs: u64,
    pub burst: u64,
    pub fail: Fail,
    /// `per_key`: the key as written, and where it was written.
    pub key: Option<(String, Span)>,
}

/// Where the function's requests are counted from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `per_user`: the `AuthContext` parameter's binding (by reference or by value).
    User {
        ident: Ident,
        by_ref: bool,
    },
    /// `per_ip`: a binding holding a `ConnectInfo<SocketAddr>`, `SocketAddr` or `IpAddr`.
    Ip {
        ident: Ident,
    },
    /// `per_key`: a bound name, then fields (spanned at the key's literal, so an unknown
    /// field is reported there).
    Key {
        root: Ident,
        fields: Vec<String>,
        span: Span,
    },
    Global,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub scope: Scope,
    pub args: Args,
    pub source: Source,
    /// Where type errors about the return type point.
    pub return_span: Span,
}

fn usage(scope: Scope) -> String {
    match scope {
        Scope::Key => "write `#[RateLimit::per_key(100, key = \"body.tenant\")]` (100 per minute for each value of `body.tenant`); `per = \"1s\"`, `burst = 20` and `fail = \"closed\"` are optional".into(),
        s => format!(
            "write `#[RateLimit::{}(100)]` (100 per minute), or `#[RateLimit::{}(10, per = \"1s\", burst = 20)]`; `fail = \"closed\"` refuses requests while Redis is down",
            s.attribute(),
            s.attribute()
        ),
    }
}

fn int(expr: &Expr) -> Option<(u64, Span)> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse().ok().map(|v| (v, i.span())),
        _ => None,
    }
}

fn string(expr: &Expr) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        _ => None,
    }
}

/// The attribute's arguments.
pub fn parse_args(scope: Scope, args: TokenStream) -> syn::Result<Args> {
    let attr = format!("#[RateLimit::{}]", scope.attribute());
    let help = usage(scope);
    if args.is_empty() {
        return Err(cell_core::macros::error(
            Span::call_site(),
            &format!("{attr} needs the number of requests it admits"),
            &help,
        ));
    }
    let items = Punctuated::<Expr, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| cell_core::macros::error(e.span(), &e.to_string(), &help))?;
    let mut errors = Errors::default();
    let mut limit = None;
    let mut per_secs = 60;
    let mut burst = None;
    let mut fail = Fail::Open;
    let mut key = None;
    for (i, item) in items.iter().enumerate() {
        if let Expr::Assign(a) = item {
            let name = match &*a.left {
                Expr::Path(p) => p
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            match name.as_str() {
                "per" => match string(&a.right) {
                    Some(s) => match parse_period(&s.value()) {
                        Ok(secs) => per_secs = secs,
                        Err(why) => errors.error(
                            s.span(),
                            &format!("`per = \"{}\"` is not a rate period: {why}", s.value()),
                            "a period is a whole number and a unit: `\"1s\"`, `\"30s\"`, `\"1m\"`, `\"1h\"` or `\"1d\"` (at most `\"7d\"`)",
                        ),
                    },
                    None => errors.error(a.right.span(), "`per` is a string such as `\"1m\"`", &help),
                },
                "burst" => match int(&a.right) {
                    Some((0, span)) => errors.error(span, "`burst = 0` admits nothing", "`burst` is how many requests are admitted at once; it defaults to the limit"),
                    Some((n, _)) => burst = Some(n),
                    None => errors.error(a.right.span(), "`burst` is a whole number", &help),
                },
                "fail" => match string(&a.right).map(|s| (s.value(), s.span())) {
                    Some((v, _)) if v == "open" => fail = Fail::Open,
                    Some((v, _)) if v == "closed" => fail = Fail::Closed,
                    other => errors.error(
                        other.map(|(_, s)| s).unwrap_or_else(|| a.right.span()),
                        "`fail` is `\"open\"` or `\"closed\"`",
                        "`\"open\"` (the default) limits each process on its own while Redis is down; `\"closed\"` refuses every request until Redis is back",
                    ),
                },
                "key" if scope == Scope::Key => match string(&a.right) {
                    Some(s) => key = Some((s.value(), s.span())),
                    None => errors.error(a.right.span(), "`key` is a string such as `\"body.tenant\"`", &help),
                },
                "key" => errors.error(
                    a.left.span(),
                    &format!("{attr} takes no `key`"),
                    "count by a value of the arguments with `#[RateLimit::per_key(100, key = \"body.tenant\")]`",
                ),
                other => errors.error(
                    a.left.span(),
                    &format!("{attr} has no argument `{other}`"),
                    &help,
                ),
            }
        } else if i == 0 {
            match int(item) {
                Some((0, span)) => errors.error(span, "a limit of 0 admits nothing", &help),
                Some((n, span)) if n > MAX_LIMIT => errors.error(
                    span,
                    &format!("{n} is more than {MAX_LIMIT} requests"),
                    &help,
                ),
                Some((n, _)) => limit = Some(n),
                None => errors.error(
                    item.span(),
                    "the limit is a whole number of requests",
                    &help,
                ),
            }
        } else {
            errors.error(
                item.span(),
                "expected `per = ...`, `burst = ...` or `fail = ...`",
                &help,
            );
        }
    }
    if limit.is_none() && errors.is_empty() {
        errors.error(
            Span::call_site(),
            &format!("{attr} needs the number of requests it admits first"),
            &help,
        );
    }
    if scope == Scope::Key && key.is_none() && errors.is_empty() {
        errors.error(
            Span::call_site(),
            "#[RateLimit::per_key] needs the `key` it counts by",
            &help,
        );
    }
    errors.finish()?;
    let limit = limit.expect("checked");
    Ok(Args {
        limit,
        per_secs,
        burst: burst.unwrap_or(limit),
        fail,
        key,
    })
}

fn last_segment(ty: &Type) -> Option<(String, bool)> {
    match ty {
        Type::Reference(r) => last_segment(&r.elem).map(|(s, _)| (s, true)),
        Type::Path(p) => p.path.segments.last().map(|s| (s.ident.to_string(), false)),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// Every name a pattern binds.
fn bindings(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                bindings(sub, out);
            }
        }
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bindings(&f.pat, out)),
        Pat::Reference(r) => bindings(&r.pat, out),
        Pat::Type(t) => bindings(&t.pat, out),
        _ => {}
    }
}

fn plain_ident(pat: &Pat) -> Option<Ident> {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.clone()),
        _ => None,
    }
}

/// The function's side: async, returning a `Result`, and the key's source.
pub fn parse_fn(scope: Scope, args: Args, item: &ItemFn) -> syn::Result<Parsed> {
    let attr = format!("#[RateLimit::{}]", scope.attribute());
    let mut errors = Errors::default();
    if item.sig.asyncness.is_none() {
        errors.error(
            item.sig.fn_token.span,
            &format!("{attr} goes on an async function: the check asks the Redis Cell"),
            "write `async fn handler(...) -> Result<T, E>` where `E: From<RateLimited>`",
        );
    }
    let return_span = match &item.sig.output {
        ReturnType::Default => {
            errors.error(
                item.sig.ident.span(),
                &format!("{attr} goes on a function that returns a `Result`: over the limit it returns `Err(RateLimited)`"),
                "return `Result<T, E>` where `E: From<RateLimited>`, for example `Result<Json<T>, RateLimited>` in an axum handler (it answers 429 Too Many Requests)",
            );
            item.sig.ident.span()
        }
        ReturnType::Type(_, ty) => ty.span(),
    };
    let typed = item.sig.inputs.iter().filter_map(|a| match a {
        FnArg::Typed(pt) => Some(pt),
        FnArg::Receiver(_) => None,
    });
    let source = match scope {
        Scope::Global => Some(Source::Global),
        Scope::User => {
            let found = typed
                .clone()
                .find(|pt| last_segment(&pt.ty).is_some_and(|(s, _)| s == "AuthContext"));
            match found {
                Some(pt) => match plain_ident(&pt.pat) {
                    Some(ident) => Some(Source::User {
                        ident,
                        by_ref: last_segment(&pt.ty).is_some_and(|(_, r)| r),
                    }),
                    None => {
                        errors.error(pt.pat.span(), "bind the `AuthContext` to a name: #[RateLimit::per_user] reads its subject", "write `ctx: AuthContext`");
                        None
                    }
                },
                None => {
                    errors.error(
                        item.sig.ident.span(),
                        "#[RateLimit::per_user] counts each caller's requests, and this function takes no `AuthContext` to say who calls",
                        "add a parameter `ctx: AuthContext` (next to `#[Auth::require(...)]` or `#[Auth::protected]`), or count by address with `#[RateLimit::per_ip(...)]`",
                    );
                    None
                }
            }
        }
        Scope::Ip => {
            let found = typed.clone().find_map(|pt| {
                let (name, _) = last_segment(&pt.ty)?;
                match name.as_str() {
                    "ConnectInfo" => match &*pt.pat {
                        Pat::TupleStruct(t) if t.elems.len() == 1 => plain_ident(&t.elems[0]),
                        p => plain_ident(p),
                    },
                    "SocketAddr" | "IpAddr" => plain_ident(&pt.pat),
                    _ => None,
                }
            });
            match found {
                Some(ident) => Some(Source::Ip { ident }),
                None => {
                    errors.error(
                        item.sig.ident.span(),
                        "#[RateLimit::per_ip] counts each client address's requests, and this function takes no address",
                        "add a parameter `ConnectInfo(addr): ConnectInfo<SocketAddr>` and serve with `into_make_service_with_connect_info::<SocketAddr>()`, or take a `SocketAddr` / `IpAddr`",
                    );
                    None
                }
            }
        }
        Scope::Key => {
            let (key, span) = args
                .key
                .clone()
                .expect("parse_args requires a key for per_key");
            let mut names = Vec::new();
            for pt in typed.clone() {
                bindings(&pt.pat, &mut names);
            }
            let parts: Vec<&str> = key.split('.').collect();
            let valid = parts.iter().all(|p| {
                !p.is_empty()
                    && (p.chars().all(|c| c.is_ascii_digit())
                        || (syn::parse_str::<Ident>(p).is_ok()))
            }) && parts[0].chars().next().is_some_and(|c| !c.is_ascii_digit());
            if !valid {
                errors.error(span, &format!("`{key}` is not a key path"), "a key is a parameter's name and fields, such as `\"body.tenant\"` or `\"user_id\"`");
                None
            } else {
                match names.iter().find(|n| *n == parts[0]) {
                    Some(root) => Some(Source::Key {
                        root: root.clone(),
                        fields: parts[1..].iter().map(|s| s.to_string()).collect(),
                        span,
                    }),
                    None => {
                        let known: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                        errors.error(
                            span,
                            &format!("the key `{key}` starts with `{}`, which is no parameter of this function", parts[0]),
                            &if known.is_empty() {
                                "the key names a parameter and its fields, such as `\"body.tenant\"` for `Json(body): Json<Request>`".to_string()
                            } else {
                                format!("the parameters bind {}", known.join(", "))
                            },
                        );
                        None
                    }
                }
            }
        }
    };
    errors.finish()?;
    Ok(Parsed {
        scope,
        args,
        source: source.expect("no error, so a source"),
        return_span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn args(scope: Scope, t: TokenStream) -> Result<Args, String> {
        parse_args(scope, t).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_every_argument() {
        let a = args(Scope::User, quote!(100)).unwrap();
        assert_eq!(
            (a.limit, a.per_secs, a.burst, a.fail),
            (100, 60, 100, Fail::Open)
        );
        let a = args(
            Scope::Ip,
            quote!(10, per = "1s", burst = 20, fail = "closed"),
        )
        .unwrap();
        assert_eq!(
            (a.limit, a.per_secs, a.burst, a.fail),
            (10, 1, 20, Fail::Closed)
        );
        let a = args(Scope::Key, quote!(5, key = "body.tenant", per = "1h")).unwrap();
        assert_eq!(a.key.unwrap().0, "body.tenant");
    }

    #[test]
    fn bad_arguments_say_what_to_write() {
        let e = args(Scope::User, quote!(100, per = "1w")).unwrap_err();
        assert!(
            e.starts_with("`per = \"1w\"` is not a rate period: `w` is not a unit of `1w`"),
            "{e}"
        );
        assert!(
            args(Scope::User, quote!())
                .unwrap_err()
                .contains("needs the number of requests")
        );
        assert!(
            args(Scope::User, quote!(0))
                .unwrap_err()
                .starts_with("a limit of 0 admits nothing")
        );
        assert!(
            args(Scope::User, quote!(1, burst = 0))
                .unwrap_err()
                .starts_with("`burst = 0`")
        );
        assert!(
            args(Scope::User, quote!(1, fail = "maybe"))
                .unwrap_err()
                .starts_with("`fail` is")
        );
        assert!(
            args(Scope::User, quote!(1, rate = 2))
                .unwrap_err()
                .starts_with("#[RateLimit::per_user] has no argument `rate`")
        );
        assert!(
            args(Scope::User, quote!(1, key = "a"))
                .unwrap_err()
                .starts_with("#[RateLimit::per_user] takes no `key`")
        );
        assert!(
            args(Scope::Key, quote!(1))
                .unwrap_err()
                .starts_with("#[RateLimit::per_key] needs the `key`")
        );
    }

    fn func(scope: Scope, a: TokenStream, f: TokenStream) -> Result<Parsed, String> {
        let item: ItemFn = syn::parse2(f).unwrap();
        parse_fn(scope, parse_args(scope, a).unwrap(), &item).map_err(|e| e.to_string())
    }

    #[test]
    fn the_key_comes_from_the_arguments() {
        let p = func(
            Scope::User,
            quote!(1),
            quote!(
                async fn f(ctx: AuthContext) -> Result<(), E> {}
            ),
        )
        .unwrap();
        assert!(matches!(p.source, Source::User { by_ref: false, .. }));
        let p = func(
            Scope::User,
            quote!(1),
            quote!(
                async fn f(ctx: &cell_runtime::AuthContext) -> Result<(), E> {}
            ),
        )
        .unwrap();
        assert!(matches!(p.source, Source::User { by_ref: true, .. }));
        let p = func(
            Scope::Ip,
            quote!(1),
            quote!(
                async fn f(ConnectInfo(addr): ConnectInfo<SocketAddr>) -> Result<(), E> {}
            ),
        )
        .unwrap();
        assert!(matches!(p.source, Source::Ip { ident } if ident == "addr"));
        let p = func(
            Scope::Key,
            quote!(1, key = "body.tenant.id"),
            quote!(
                async fn f(Json(body): Json<R>) -> Result<(), E> {}
            ),
        )
        .unwrap();
        assert!(
            matches!(p.source, Source::Key { root, fields, .. } if root == "body" && fields == ["tenant", "id"])
        );
        let p = func(
            Scope::Global,
            quote!(1),
            quote!(
                async fn f() -> Result<(), E> {}
            ),
        )
        .unwrap();
        assert!(matches!(p.source, Source::Global));
    }

    #[test]
    fn misuse_is_refused() {
        let e = func(
            Scope::User,
            quote!(1),
            quote!(
                async fn f(id: u32) -> Result<(), E> {}
            ),
        )
        .unwrap_err();
        assert!(e.contains("takes no `AuthContext`"), "{e}");
        let e = func(
            Scope::Ip,
            quote!(1),
            quote!(
                async fn f() -> Result<(), E> {}
            ),
        )
        .unwrap_err();
        assert!(e.contains("takes no address"), "{e}");
        let e = func(
            Scope::Key,
            quote!(1, key = "req.tenant"),
            quote!(
                async fn f(Json(body): Json<R>) -> Result<(), E> {}
            ),
        )
        .unwrap_err();
        assert!(
            e.contains("starts with `req`, which is no parameter") && e.contains("`body`"),
            "{e}"
        );
        let e = func(
            Scope::Key,
            quote!(1, key = "body..x"),
            quote!(
                async fn f(body: R) -> Result<(), E> {}
            ),
        )
        .unwrap_err();
        assert!(e.starts_with("`body..x` is not a key path"), "{e}");
        let e = func(
            Scope::Global,
            quote!(1),
            quote!(
                fn f() -> Result<(), E> {}
            ),
        )
        .unwrap_err();
        assert!(e.contains("goes on an async function"), "{e}");
        let e = func(
            Scope::Global,
            quote!(1),
            quote!(
                async fn f() {}
            ),
        )
        .unwrap_err();
        assert!(e.contains("returns a `Result`"), "{e}");
    }
}

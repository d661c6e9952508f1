//! The check before the body: a GCRA step in the Redis Cell for the function's key, and
//! `return Err(RateLimited)` (converted by the function's error type) over the limit. It
//! cannot fail: [`crate::parse`] validated everything, and [`check_against_lock`] compared
//! the limit with the lock before. The generated code names everything
//! through `::cell_runtime::__private::ratelimit` and leaks no names.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ItemFn;

use std::path::Path;

use crate::declare::{Fail, LimitDecl};
use crate::lock::Lock;
use crate::parse::{Parsed, Source};

/// The declaration recorded for a parsed attribute on the function `function`.
pub fn declaration(function: &str, parsed: &Parsed) -> LimitDecl {
    LimitDecl {
        function: function.to_string(),
        scope: parsed.scope,
        key: parsed.args.key.as_ref().map(|(k, _)| k.clone()),
        limit: parsed.args.limit,
        per_secs: parsed.args.per_secs,
        burst: parsed.args.burst,
        fail: parsed.args.fail,
    }
}

/// Whether the limit is the one `.cell/ratelimit.lock.json` (at `path`) holds. A limit that
/// differs, or that the lock does not list, was not through `cargo cell plan` and
/// `cargo cell build`: the compile error says so, as the Auth Cell's does for a guard.
pub fn check_against_lock(decl: &LimitDecl, lock: &Lock, path: &Path) -> Result<(), String> {
    let name = decl.name();
    let file = path.display();
    let wanted = Lock::desired(std::slice::from_ref(decl));
    match lock.limits.get(&name) {
        Some(locked) if Some(locked) == wanted.limits.get(&name) => Ok(()),
        Some(_) => {
            let was = lock
                .declarations()
                .into_iter()
                .find(|d| d.name() == name)
                .map(|d| d.describe())
                .unwrap_or_default();
            Err(format!(
                "the rate limit `{name}` is {}, but {file} says {was}\n\nhelp: run `cargo cell plan` to review the change, then `cargo cell build` to lock it",
                decl.describe()
            ))
        }
        None => Err(format!(
            "the rate limit `{name}` ({}) is not in {file}\n\nhelp: run `cargo cell plan` to review the new limit, then `cargo cell build` to lock it",
            decl.describe()
        )),
    }
}

/// The function with its check in front of the body. `lock` is the lock the limit was
/// checked against, if any: the crate then depends on it, so a new lock recompiles it.
pub fn expand(
    mut item: ItemFn,
    decl: &LimitDecl,
    parsed: &Parsed,
    lock: Option<&Path>,
) -> TokenStream {
    let rt = quote!(::cell_runtime::__private::ratelimit);
    let key = match &parsed.source {
        Source::User { ident, by_ref } => {
            let ctx = if *by_ref {
                quote!(#ident)
            } else {
                quote!(&#ident)
            };
            quote!(#rt::user_key(#ctx))
        }
        Source::Ip { ident } => quote!(#rt::ip_key(&#ident)),
        Source::Key { root, fields, span } => {
            // Resolved at the macro's mixed site, located at the key: rustc reports an unknown
            // field at the key, but does not rewrite the string into an identifier.
            let span = &span.resolved_at(Span::mixed_site());
            let fields = fields.iter().map(|f| {
                if f.chars().all(|c| c.is_ascii_digit()) {
                    let index = syn::Index {
                        index: f.parse().expect("digits"),
                        span: *span,
                    };
                    quote_spanned!(*span=> .#index)
                } else {
                    let ident = Ident::new(f, *span);
                    quote_spanned!(*span=> .#ident)
                }
            });
            let value = quote_spanned!(*span=> &#root #(#fields)*);
            quote_spanned!(*span=> #rt::value_key(#value))
        }
        Source::Global => quote!(::std::string::String::new()),
    };
    let name = decl.name();
    let (limit, per_secs, burst) = (decl.limit, decl.per_secs, decl.burst);
    let fail_closed = decl.fail == Fail::Closed;
    // Spanned at the return type (the path written out, not `#rt`, so every token carries
    // that span): a type that cannot carry a RateLimited is reported there.
    let deny = quote_spanned!(parsed.return_span=>
        return ::cell_runtime::__private::ratelimit::deny(__cell_rate_limited)
    );
    let track = lock.map(|path| {
        let path = path.display().to_string();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    let block = &item.block;
    let body = quote!({
        #track
        {
            static __CELL_RATE_LIMIT: #rt::Limit = #rt::Limit {
                name: #name,
                limit: #limit,
                per_secs: #per_secs,
                burst: #burst,
                fail_closed: #fail_closed,
            };
            if let ::core::result::Result::Err(__cell_rate_limited) =
                #rt::check(&__CELL_RATE_LIMIT, #key).await
            {
                #deny;
            }
        }
        #block
    });
    *item.block = syn::parse2(body).expect("the check is a block");
    quote!(#item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::Scope;
    use crate::parse::{parse_args, parse_fn};

    fn run(scope: Scope, args: TokenStream, f: TokenStream) -> String {
        let item: ItemFn = syn::parse2(f).unwrap();
        let parsed = parse_fn(scope, parse_args(scope, args).unwrap(), &item).unwrap();
        let decl = declaration("app::f", &parsed);
        expand(item, &decl, &parsed, None).to_string()
    }

    #[test]
    fn the_check_runs_before_the_body() {
        let out = run(
            Scope::User,
            quote!(100),
            quote!(
                async fn f(ctx: AuthContext) -> Result<u32, E> {
                    Ok(1)
                }
            ),
        );
        assert!(out.contains("name : \"app::f/per_user\""), "{out}");
        assert!(out.contains("limit : 100u64"), "{out}");
        assert!(out.contains("per_secs : 60u64"), "{out}");
        assert!(out.contains("burst : 100u64"), "{out}");
        assert!(out.contains("fail_closed : false"), "{out}");
        assert!(out.contains("user_key (& ctx)"), "{out}");
        let check = out.find("check (").unwrap();
        assert!(check < out.find("Ok (1)").unwrap());
    }

    fn decl(limit: u64) -> LimitDecl {
        LimitDecl {
            function: "app::search".into(),
            scope: Scope::User,
            key: None,
            limit,
            per_secs: 60,
            burst: limit,
            fail: Fail::Open,
        }
    }

    #[test]
    fn a_limit_is_checked_against_the_lock() {
        let path = Path::new("/ws/.cell/ratelimit.lock.json");
        let lock = Lock::desired(&[decl(100)]);
        assert_eq!(check_against_lock(&decl(100), &lock, path), Ok(()));
        let raised = check_against_lock(&decl(200), &lock, path).unwrap_err();
        assert_eq!(
            raised,
            "the rate limit `app::search/per_user` is 200 per 1m, burst 200, fail open, but /ws/.cell/ratelimit.lock.json says 100 per 1m, burst 100, fail open\n\nhelp: run `cargo cell plan` to review the change, then `cargo cell build` to lock it"
        );
        let new = check_against_lock(&decl(100), &Lock::desired(&[]), path).unwrap_err();
        assert!(
            new.starts_with("the rate limit `app::search/per_user` (100 per 1m, burst 100, fail open) is not in /ws/.cell/ratelimit.lock.json"),
            "{new}"
        );
    }

    #[test]
    fn a_checked_limit_depends_on_its_lock() {
        let item: ItemFn = syn::parse2(quote!(
            async fn f() -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap();
        let parsed = parse_fn(
            Scope::Global,
            parse_args(Scope::Global, quote!(5)).unwrap(),
            &item,
        )
        .unwrap();
        let decl = declaration("app::f", &parsed);
        let path = Path::new("/ws/.cell/ratelimit.lock.json");
        let out = expand(item.clone(), &decl, &parsed, Some(path)).to_string();
        assert!(
            out.contains("include_bytes ! (\"/ws/.cell/ratelimit.lock.json\")"),
            "{out}"
        );
        let out = expand(item, &decl, &parsed, None).to_string();
        assert!(!out.contains("include_bytes"), "{out}");
    }

    #[test]
    fn keys_come_from_the_arguments() {
        let out = run(
            Scope::Key,
            quote!(5, key = "body.tenant.0", fail = "closed"),
            quote!(
                async fn f(Json(body): Json<R>) -> Result<(), E> {}
            ),
        );
        assert!(out.contains("value_key (& body . tenant . 0)"), "{out}");
        assert!(out.contains("fail_closed : true"), "{out}");
        let out = run(
            Scope::Ip,
            quote!(5),
            quote!(
                async fn f(ConnectInfo(addr): ConnectInfo<SocketAddr>) -> Result<(), E> {}
            ),
        );
        assert!(out.contains("ip_key (& addr)"), "{out}");
        let out = run(
            Scope::Global,
            quote!(5),
            quote!(
                async fn f() -> Result<(), E> {}
            ),
        );
        assert!(out.contains("String :: new ()"), "{out}");
    }
}

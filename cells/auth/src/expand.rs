//! The guard: checks before the body runs. With a lock, a bit test against the mask of the
//! rule's roles (positions from the lock); without one, a comparison of role names. The
//! generating functions cannot fail: [`check_against_lock`] runs first.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{FnArg, ItemFn, Pat, PatIdent};

use crate::lock::Lock;
use crate::parse::Parsed;
use crate::rule::Rule;

/// The lock the expansion is checked against, when the workspace has one.
#[derive(Clone, Copy)]
pub struct Locked<'a> {
    pub path: &'a Path,
    pub lock: &'a Lock,
}

/// The function's guard must be in the lock exactly as written: every permission change goes
/// through `cargo cell plan` before it compiles.
pub fn check_against_lock(fn_path: &str, rule: &Rule, locked: Locked<'_>) -> Result<(), String> {
    let file = locked.path.display();
    match locked.lock.guards.get(fn_path) {
        Some(r) if r == rule => Ok(()),
        Some(r) => Err(format!(
            "the guard of `{fn_path}` requires {}, but {file} says {}\n\nhelp: run `cargo cell plan` to review the permission change, then `cargo cell build` to lock it",
            rule.describe(),
            r.describe()
        )),
        None => Err(format!(
            "`{fn_path}` is guarded, but {file} does not list it\n\nhelp: run `cargo cell plan` to review the new permission, then `cargo cell build` to lock it"
        )),
    }
}

/// The function with its guard. `locked` is `None` without a lock (and while recording).
pub fn expand(mut item: ItemFn, parsed: &Parsed, locked: Option<Locked<'_>>) -> TokenStream {
    let rt = quote!(::cell_runtime::__private::auth);
    let ctx_param = &parsed.context;

    // The parameter's binding: its own name, or a hidden one bound to the pattern afterwards.
    let hidden = format_ident!("__cell_auth_context");
    let mut rebind = TokenStream::new();
    let ident = match &ctx_param.ident {
        Some(i) => i.clone(),
        None => {
            if let Some(FnArg::Typed(pt)) = item.sig.inputs.iter_mut().nth(ctx_param.index) {
                let pat = std::mem::replace(
                    &mut *pt.pat,
                    Pat::Ident(PatIdent {
                        attrs: vec![],
                        by_ref: None,
                        mutability: None,
                        ident: hidden.clone(),
                        subpat: None,
                    }),
                );
                rebind = quote!(let #pat = #hidden;);
            }
            hidden
        }
    };
    let ctx = if ctx_param.by_ref {
        quote!(#ident)
    } else {
        quote!(&#ident)
    };

    let table = locked.map(|l| l.lock.role_table());
    let mask = table
        .as_ref()
        .and_then(|t| t.mask(parsed.rule.roles()).ok());
    let check = match (&parsed.rule, mask) {
        (Rule::Protected, _) => quote!(#rt::require_authenticated(#ctx)),
        (Rule::Any { .. }, Some(mask)) => quote!(#rt::require_mask(#ctx, #mask)),
        (Rule::Any { roles }, None) => {
            let roles = roles.iter();
            quote!(#rt::require_any_name(#ctx, &[#(#roles),*]))
        }
    };
    // The runtime maps token roles to bits through the positions the guards were built with.
    let register = match (&table, mask) {
        (Some(t), Some(_)) => {
            let entries = parsed.rule.roles().map(|r| {
                let bit = t.bit(r).expect("masked roles are in the table");
                quote!(#rt::inventory::submit! { #rt::RoleBit { role: #r, bit: #bit } })
            });
            quote!(#(#entries)*)
        }
        _ => TokenStream::new(),
    };
    // Rebuild when the lock changes.
    let track = match locked {
        Some(l) => {
            let path = l.path.display().to_string();
            quote!(
                const _: &[u8] = ::core::include_bytes!(#path);
            )
        }
        None => TokenStream::new(),
    };
    // Spanned at the return type: a type that cannot carry an AuthError is reported there.
    let deny = quote_spanned!(parsed.return_span=>
        return ::cell_runtime::__private::auth::deny(__cell_auth_denied)
    );
    let block = &item.block;
    let body = quote!({
        #track
        #register
        if let ::core::result::Result::Err(__cell_auth_denied) = #check {
            #deny;
        }
        #rebind
        #block
    });
    *item.block = syn::parse2(body).expect("the guard is a block");
    quote!(#item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Kind, parse_fn};
    use crate::rule::GuardDecl;

    fn run(tokens: TokenStream, rule: Rule, lock: Option<&Lock>) -> String {
        let item: ItemFn = syn::parse2(tokens).unwrap();
        let parsed = parse_fn(Kind::Require, rule, &item).unwrap();
        let locked = lock.map(|lock| Locked {
            path: Path::new("/ws/.cell/auth.lock.json"),
            lock,
        });
        expand(item, &parsed, locked).to_string()
    }

    fn lock() -> Lock {
        Lock::from_guards(&[
            GuardDecl {
                path: "app::a".into(),
                rule: Rule::any(["admin", "support"]),
            },
            GuardDecl {
                path: "app::b".into(),
                rule: Rule::any(["billing"]),
            },
        ])
        .unwrap()
    }

    #[test]
    fn with_a_lock_the_guard_is_a_bit_test() {
        let out = run(
            quote!(
                async fn a(ctx: AuthContext) -> Result<u8, AuthError> {
                    Ok(1)
                }
            ),
            Rule::any(["admin", "support"]),
            Some(&lock()),
        );
        // admin = bit 0, billing = 1, support = 2.
        assert!(out.contains("require_mask (& ctx , 5u64)"), "{out}");
        assert!(
            out.contains("include_bytes ! (\"/ws/.cell/auth.lock.json\")"),
            "{out}"
        );
        assert!(
            out.contains("RoleBit { role : \"support\" , bit : 2u32 }"),
            "{out}"
        );
        assert!(out.find("require_mask").unwrap() < out.find("Ok (1)").unwrap());
    }

    #[test]
    fn without_a_lock_the_guard_compares_names() {
        let out = run(
            quote!(
                async fn a(ctx: &AuthContext) -> Result<u8, AuthError> {
                    Ok(1)
                }
            ),
            Rule::any(["admin"]),
            None,
        );
        assert!(
            out.contains("require_any_name (ctx , & [\"admin\"])"),
            "{out}"
        );
        assert!(
            !out.contains("include_bytes") && !out.contains("RoleBit"),
            "{out}"
        );
    }

    #[test]
    fn a_pattern_parameter_is_bound_after_the_guard() {
        let item: ItemFn = syn::parse2(quote!(
            async fn a(_: AuthContext) -> Result<u8, AuthError> {
                Ok(1)
            }
        ))
        .unwrap();
        let parsed = parse_fn(Kind::Protected, Rule::Protected, &item).unwrap();
        let out = expand(item, &parsed, None).to_string();
        assert!(
            out.contains("fn a (__cell_auth_context : AuthContext)"),
            "{out}"
        );
        assert!(
            out.contains("require_authenticated (& __cell_auth_context)"),
            "{out}"
        );
        assert!(out.contains("let _ = __cell_auth_context ;"), "{out}");
    }

    #[test]
    fn guards_must_match_the_lock() {
        let lock = lock();
        let locked = Locked {
            path: Path::new("/ws/.cell/auth.lock.json"),
            lock: &lock,
        };
        assert!(check_against_lock("app::b", &Rule::any(["billing"]), locked).is_ok());
        let err = check_against_lock("app::b", &Rule::Protected, locked).unwrap_err();
        assert!(
            err.contains(
                "requires any authenticated caller, but /ws/.cell/auth.lock.json says role billing"
            ),
            "{err}"
        );
        assert!(err.contains("cargo cell plan"), "{err}");
        let err = check_against_lock("app::c", &Rule::Protected, locked).unwrap_err();
        assert!(err.contains("does not list it"), "{err}");
    }
}

//! `#[Auth::require(role = "admin")]`, `#[Auth::require(any = ["admin", "support"])]` and
//! `#[Auth::protected]` on a function: the attribute's arguments and the function's
//! `AuthContext` parameter, with every error spanned at the user's code.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprArray, ExprLit, FnArg, ItemFn, Lit, LitStr, Meta, Pat, ReturnType, Token, Type,
};

use crate::rule::Rule;

/// Which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Require,
    Protected,
}

impl Kind {
    pub fn attribute(self) -> &'static str {
        match self {
            Kind::Require => "#[Auth::require]",
            Kind::Protected => "#[Auth::protected]",
        }
    }
}

/// How the function receives its `AuthContext`.
#[derive(Debug, Clone)]
pub struct ContextParam {
    /// The parameter's position in `sig.inputs`.
    pub index: usize,
    /// `ctx: &AuthContext` (or `&mut`) rather than `ctx: AuthContext`.
    pub by_ref: bool,
    /// The binding's name, when the pattern is a plain identifier; otherwise the expansion
    /// renames the parameter and binds the pattern after the guard.
    pub ident: Option<syn::Ident>,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub kind: Kind,
    pub rule: Rule,
    pub context: ContextParam,
    /// Where type errors about the return type point.
    pub return_span: Span,
}

const HELP_CONTEXT: &str = "help: add a parameter `ctx: AuthContext` (in an axum handler it is an extractor that verifies the `Authorization: Bearer` token), or `ctx: &AuthContext` where the caller already has one";
const HELP_RETURN: &str = "help: return `Result<T, E>` where `E: From<AuthError>`, for example `Result<Json<T>, AuthError>` in an axum handler";

fn is_role_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
}

fn role(lit: &LitStr) -> syn::Result<String> {
    let value = lit.value();
    if is_role_name(&value) {
        Ok(value)
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "`{value}` is not a role name\n\nhelp: a role is 1 to 64 ASCII letters, digits, `_`, `-`, `.`, `:` or `/`, as the tokens' `roles` claim holds it"
            ),
        ))
    }
}

/// The attribute's arguments.
pub fn parse_rule(kind: Kind, args: TokenStream) -> syn::Result<Rule> {
    let call_site = Span::call_site();
    if kind == Kind::Protected {
        if args.is_empty() {
            return Ok(Rule::Protected);
        }
        return Err(syn::Error::new(
            args.span(),
            "#[Auth::protected] takes no arguments: it admits every authenticated caller\n\nhelp: write `#[Auth::protected]`, or `#[Auth::require(role = \"admin\")]` to require a role",
        ));
    }
    let usage = "help: write `#[Auth::require(role = \"admin\")]` or `#[Auth::require(any = [\"admin\", \"support\"])]`";
    if args.is_empty() {
        return Err(syn::Error::new(
            call_site,
            format!(
                "#[Auth::require] needs the role it requires\n\n{usage}; `#[Auth::protected]` admits every authenticated caller"
            ),
        ));
    }
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| syn::Error::new(e.span(), format!("{e}\n\n{usage}")))?;
    let mut found: Option<(Span, Rule)> = None;
    for meta in &metas {
        let Meta::NameValue(nv) = meta else {
            return Err(syn::Error::new(
                meta.span(),
                format!("expected `role = \"...\"` or `any = [...]`\n\n{usage}"),
            ));
        };
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let rule = match (key.as_str(), &nv.value) {
            (
                "role",
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }),
            ) => Rule::any([role(s)?]),
            ("role", other) => {
                return Err(syn::Error::new(
                    other.span(),
                    format!("`role` takes one role name in quotes\n\n{usage}"),
                ));
            }
            ("any", Expr::Array(ExprArray { elems, .. })) => {
                if elems.is_empty() {
                    return Err(syn::Error::new(
                        nv.value.span(),
                        format!(
                            "`any` needs at least one role: an empty list would refuse everyone\n\n{usage}"
                        ),
                    ));
                }
                let mut roles = Vec::new();
                for e in elems {
                    match e {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(s), ..
                        }) => roles.push(role(s)?),
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                format!("`any` lists role names in quotes\n\n{usage}"),
                            ));
                        }
                    }
                }
                Rule::any(roles)
            }
            ("any", other) => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "`any` takes a list of role names: `any = [\"admin\", \"support\"]`\n\n{usage}"
                    ),
                ));
            }
            _ => {
                return Err(syn::Error::new(
                    nv.path.span(),
                    format!("unknown argument `{key}` of #[Auth::require]\n\n{usage}"),
                ));
            }
        };
        if found.is_some() {
            return Err(syn::Error::new(
                meta.span(),
                format!("#[Auth::require] takes one of `role` or `any`, once\n\n{usage}"),
            ));
        }
        found = Some((meta.span(), rule));
    }
    Ok(found.expect("at least one argument").1)
}

/// Whether `ty` names `AuthContext` (any path ending in it), by value or by reference.
fn context_type(ty: &Type) -> Option<bool> {
    match ty {
        Type::Reference(r) => context_type(&r.elem).filter(|by_ref| !by_ref).map(|_| true),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            (last.ident == "AuthContext" && last.arguments.is_empty()).then_some(false)
        }
        Type::Paren(p) => context_type(&p.elem),
        Type::Group(g) => context_type(&g.elem),
        _ => None,
    }
}

fn is_guard_attribute(attr: &syn::Attribute) -> bool {
    let segs: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segs.windows(2)
        .any(|w| w[0] == "Auth" && (w[1] == "require" || w[1] == "protected"))
}

/// The function: its `AuthContext` parameter and return type, and no second guard.
pub fn parse_fn(kind: Kind, rule: Rule, item: &ItemFn) -> syn::Result<Parsed> {
    if let Some(attr) = item.attrs.iter().find(|a| is_guard_attribute(a)) {
        return Err(syn::Error::new_spanned(
            attr,
            "a function has one guard: this second #[Auth::...] attribute would be checked after the first\n\nhelp: keep one: `#[Auth::require(any = [...])]` admits any of several roles",
        ));
    }
    let mut context = None;
    for (index, input) in item.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        let Some(by_ref) = context_type(&pt.ty) else {
            continue;
        };
        if context.is_some() {
            return Err(syn::Error::new_spanned(
                pt,
                "this function takes two `AuthContext` parameters; the guard would not know which to check\n\nhelp: keep one",
            ));
        }
        let ident = match &*pt.pat {
            Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.clone()),
            _ => None,
        };
        context = Some(ContextParam {
            index,
            by_ref,
            ident,
        });
    }
    let Some(context) = context else {
        return Err(syn::Error::new(
            item.sig.ident.span(),
            format!(
                "{} needs the caller's identity, but `{}` takes no `AuthContext` parameter\n\n{HELP_CONTEXT}",
                kind.attribute(),
                item.sig.ident
            ),
        ));
    };
    let return_span = match &item.sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                item.sig.ident.span(),
                format!(
                    "{} returns an error before the body runs, but `{}` returns `()`\n\n{HELP_RETURN}",
                    kind.attribute(),
                    item.sig.ident
                ),
            ));
        }
        ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => {
            return Err(syn::Error::new(
                ty.span(),
                format!(
                    "{} must return its error, and an `impl Trait` return type cannot be built from one\n\n{HELP_RETURN}",
                    kind.attribute()
                ),
            ));
        }
        ReturnType::Type(_, ty) => ty.span(),
    };
    Ok(Parsed {
        kind,
        rule,
        context,
        return_span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rule(kind: Kind, args: TokenStream) -> Result<Rule, String> {
        parse_rule(kind, args).map_err(|e| e.to_string())
    }

    fn func(tokens: TokenStream) -> Result<Parsed, String> {
        let item: ItemFn = syn::parse2(tokens).unwrap();
        parse_fn(Kind::Require, Rule::any(["admin"]), &item).map_err(|e| e.to_string())
    }

    #[test]
    fn rules_from_arguments() {
        assert_eq!(
            rule(Kind::Require, quote!(role = "admin")),
            Ok(Rule::any(["admin"]))
        );
        assert_eq!(
            rule(Kind::Require, quote!(any = ["support", "admin"])),
            Ok(Rule::any(["admin", "support"]))
        );
        assert_eq!(rule(Kind::Protected, quote!()), Ok(Rule::Protected));
    }

    #[test]
    fn argument_errors_say_how_to_fix_them() {
        for (args, needle) in [
            (quote!(), "needs the role"),
            (quote!(roles = "admin"), "unknown argument `roles`"),
            (quote!(role = admin), "one role name in quotes"),
            (quote!(role = ""), "is not a role name"),
            (quote!(role = "a b"), "is not a role name"),
            (quote!(any = []), "empty list would refuse everyone"),
            (quote!(any = [admin]), "role names in quotes"),
            (quote!(any = "admin"), "takes a list"),
            (quote!(role = "a", any = ["b"]), "one of `role` or `any`"),
            (quote!(admin), "expected `role"),
        ] {
            let err = rule(Kind::Require, args.clone()).unwrap_err();
            assert!(err.contains(needle), "{args}: {err}");
            assert!(err.contains("help:"), "{args}: {err}");
        }
        let err = rule(Kind::Protected, quote!(role = "admin")).unwrap_err();
        assert!(err.contains("takes no arguments"), "{err}");
    }

    #[test]
    fn finds_the_context_by_value_or_reference() {
        let p = func(quote!(
            async fn f(ctx: AuthContext) -> Result<(), AuthError> {
                Ok(())
            }
        ))
        .unwrap();
        assert_eq!((p.context.index, p.context.by_ref), (0, false));
        assert_eq!(p.context.ident.unwrap(), "ctx");
        let p = func(quote!(
            async fn f(&self, id: u32, c: &cell_runtime::auth::AuthContext) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap();
        assert_eq!((p.context.index, p.context.by_ref), (2, true));
        let p = func(quote!(
            async fn f(_: AuthContext) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap();
        assert!(p.context.ident.is_none());
    }

    #[test]
    fn function_errors_say_how_to_fix_them() {
        let err = func(quote!(
            async fn f(id: u32) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap_err();
        assert!(
            err.contains("takes no `AuthContext` parameter") && err.contains("ctx: AuthContext"),
            "{err}"
        );
        let err = func(quote!(
            async fn f(ctx: AuthContext) {}
        ))
        .unwrap_err();
        assert!(err.contains("returns `()`"), "{err}");
        let err = func(quote!(
            async fn f(ctx: AuthContext) -> impl IntoResponse {
                1
            }
        ))
        .unwrap_err();
        assert!(err.contains("impl Trait"), "{err}");
        let err = func(quote!(
            async fn f(a: AuthContext, b: &AuthContext) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap_err();
        assert!(err.contains("two `AuthContext`"), "{err}");
        let err = func(quote!(
            #[Auth::protected]
            async fn f(a: AuthContext) -> Result<(), E> {
                Ok(())
            }
        ))
        .unwrap_err();
        assert!(err.contains("one guard"), "{err}");
    }
}

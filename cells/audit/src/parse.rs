//! `#[Audit::log(event = "user_deleted", sensitive_fields = ["email"], retention = "7y",
//! immutable = true)]` on an async function returning `Result`: the arguments, and the
//! function's parameters sorted into what a record needs (the actor, the executor the
//! record is written through, the arguments recorded), every error spanned at the user's
//! code. Validation collects every mistake (`cell_core::macros::Errors`).

use cell_core::macros::Errors;
use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Pat, ReturnType, Token, Type};

use crate::declare::retention_days;

const USAGE: &str = "write `#[Audit::log(event = \"user_deleted\", sensitive_fields = [\"email\"], retention = \"7y\")]` on an async function returning `Result`";

/// The attribute's arguments, validated.
#[derive(Debug, Clone)]
pub struct Args {
    pub event: String,
    /// Each name, and where it was written.
    pub sensitive: Vec<(String, Span)>,
    pub retention: String,
}

/// Where a record's parts come from in the function's parameters.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub args: Args,
    /// The `AuthContext` binding, and whether it is a reference.
    pub actor: Option<(Ident, bool)>,
    /// The binding the record is written through (a `Transaction`, a `PostgresConnection` or
    /// an `impl Executor`), and whether it is a reference.
    pub executor: Option<(Ident, bool)>,
    /// Every other binding and its type, in the function's order: recorded as it is unless
    /// sensitive.
    pub recorded: Vec<(Ident, Type)>,
    /// Where type errors about the return type point.
    pub return_span: Span,
}

impl Parsed {
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.args.sensitive.iter().any(|(s, _)| s == name)
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

/// An event name: lowercase letters, digits, `_`, `.` and `-`, as `user_deleted`.
pub fn valid_event(e: &str) -> bool {
    !e.is_empty()
        && e.len() <= 100
        && e.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

/// The attribute's arguments.
pub fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let call_site = Span::call_site();
    let items = Punctuated::<Expr, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| cell_core::macros::error(e.span(), &e.to_string(), USAGE))?;
    let mut errors = Errors::default();
    let mut event = None;
    let mut sensitive = Vec::new();
    let mut retention = None;
    let mut retention_written = false;
    for item in &items {
        let Expr::Assign(a) = item else {
            errors.error(item.span(), "expected `name = value`", USAGE);
            continue;
        };
        let name = match &*a.left {
            Expr::Path(p) => p
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        retention_written |= name == "retention";
        match name.as_str() {
            "event" => match string(&a.right) {
                Some(s) if valid_event(&s.value()) => event = Some(s.value()),
                Some(s) => errors.error(
                    s.span(),
                    &format!("`{}` is not an event name", s.value()),
                    "an event name is lowercase letters, digits, `_`, `.` and `-`, such as `\"user_deleted\"`",
                ),
                None => errors.error(a.right.span(), "`event` is a string such as `\"user_deleted\"`", USAGE),
            },
            "sensitive_fields" => match &*a.right {
                Expr::Array(list) => {
                    for e in &list.elems {
                        match string(e) {
                            Some(s) => sensitive.push((s.value(), s.span())),
                            None => errors.error(
                                e.span(),
                                "a sensitive field is named by a string",
                                "write `sensitive_fields = [\"email\", \"ssn\"]`, naming the function's arguments",
                            ),
                        }
                    }
                }
                other => errors.error(
                    other.span(),
                    "`sensitive_fields` is a list of argument names",
                    "write `sensitive_fields = [\"email\", \"ssn\"]`",
                ),
            },
            "retention" => match string(&a.right) {
                Some(s) => match retention_days(&s.value()) {
                    Ok(_) => retention = Some(s.value()),
                    Err(message) => {
                        let (m, help) = message.split_once("\n\nhelp: ").unwrap_or((&message, USAGE));
                        errors.error(s.span(), m, help)
                    }
                },
                None => errors.error(a.right.span(), "`retention` is a string such as `\"7y\"`", USAGE),
            },
            "immutable" => match &*a.right {
                Expr::Lit(ExprLit { lit: Lit::Bool(b), .. }) if b.value => {}
                other => errors.error(
                    other.span(),
                    "audit records are always immutable",
                    "the database refuses every UPDATE, DELETE and TRUNCATE of the trail; remove `immutable = false` (or write `immutable = true`)",
                ),
            },
            _ => errors.push(cell_core::macros::unknown_key(
                match &*a.left {
                    Expr::Path(p) => &p.path,
                    _ => {
                        errors.error(a.left.span(), "expected a name", USAGE);
                        continue;
                    }
                },
                "#[Audit::log]",
                "the keys are `event`, `sensitive_fields`, `retention` and `immutable`",
            )),
        }
    }
    if event.is_none() {
        errors.error(call_site, "#[Audit::log] needs an `event`", USAGE);
    }
    if !retention_written {
        errors.error(
            call_site,
            "#[Audit::log] needs a `retention`: how long records are kept decides what `cargo cell audit prune` may drop",
            "add `retention = \"7y\"` (or `\"90d\"`, `\"18mo\"`): the retention your regulation asks for",
        );
    }
    errors.finish()?;
    Ok(Args {
        event: event.expect("checked"),
        sensitive,
        retention: retention.expect("checked"),
    })
}

/// The last segment of a type's path, under references: `Transaction` for `&tx::Transaction`.
fn last_segment(ty: &Type) -> Option<(String, bool)> {
    match ty {
        Type::Reference(r) => last_segment(&r.elem).map(|(s, _)| (s, true)),
        Type::Path(p) => p.path.segments.last().map(|s| (s.ident.to_string(), false)),
        Type::ImplTrait(t) => t.bounds.iter().find_map(|b| match b {
            syn::TypeParamBound::Trait(t) => t
                .path
                .segments
                .last()
                .map(|s| (format!("impl {}", s.ident), false)),
            _ => None,
        }),
        _ => None,
    }
}

/// The function's parameters sorted; checks that every sensitive field is one of them.
pub fn parse_fn(args: Args, item: &ItemFn) -> syn::Result<Parsed> {
    let mut errors = Errors::default();
    if item.sig.asyncness.is_none() {
        errors.error(
            item.sig.fn_token.span(),
            "#[Audit::log] goes on an async function",
            "the record is written to the database: make the function `async`",
        );
    }
    let return_span = match &item.sig.output {
        ReturnType::Type(_, ty) if last_segment(ty).is_some_and(|(s, _)| s == "Result") => {
            ty.span()
        }
        ReturnType::Type(_, ty) => {
            errors.error(
                ty.span(),
                "#[Audit::log] needs a function returning `Result`",
                "the outcome is recorded as `ok` or the error's kind, and a record that cannot be written fails the call: return `Result<T, E>` where `E: From<cell_runtime::Error>`",
            );
            ty.span()
        }
        ReturnType::Default => {
            errors.error(
                item.sig.ident.span(),
                "#[Audit::log] needs a function returning `Result`",
                "the outcome is recorded as `ok` or the error's kind, and a record that cannot be written fails the call: return `Result<T, E>` where `E: From<cell_runtime::Error>`",
            );
            item.sig.ident.span()
        }
    };
    let mut actor = None;
    let mut executor = None;
    let mut recorded = Vec::new();
    for input in &item.sig.inputs {
        let FnArg::Typed(pt) = input else {
            continue; // `self`: not recorded
        };
        let ident = match &*pt.pat {
            Pat::Ident(i) => i.ident.clone(),
            // `Json(body): Json<T>`: the binding inside.
            Pat::TupleStruct(ts) if ts.elems.len() == 1 => match &ts.elems[0] {
                Pat::Ident(i) => i.ident.clone(),
                other => {
                    errors.error(
                        other.span(),
                        "an audited argument needs a name",
                        "bind it to a name, as `Json(body): Json<T>`",
                    );
                    continue;
                }
            },
            other => {
                errors.error(
                    other.span(),
                    "an audited argument needs a name",
                    "bind it to a name, as `user: NewUser`",
                );
                continue;
            }
        };
        match last_segment(&pt.ty) {
            Some((s, by_ref)) if s == "AuthContext" => actor = Some((ident, by_ref)),
            Some((s, by_ref))
                if s == "Transaction" || s == "PostgresConnection" || s == "impl Executor" =>
            {
                executor = Some((ident, by_ref || s == "impl Executor"))
            }
            _ => recorded.push((ident, (*pt.ty).clone())),
        }
    }
    for (name, span) in &args.sensitive {
        if !recorded.iter().any(|(i, _)| i == name) {
            let names: Vec<String> = recorded.iter().map(|(i, _)| format!("`{i}`")).collect();
            errors.error(
                *span,
                &format!("`{name}` is not an argument of this function"),
                &if names.is_empty() {
                    "this function has no argument to record: remove it from `sensitive_fields`"
                        .to_string()
                } else {
                    format!("the arguments recorded are {}", names.join(", "))
                },
            );
        }
    }
    errors.finish()?;
    Ok(Parsed {
        args,
        actor,
        executor,
        recorded,
        return_span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn err(args: TokenStream) -> String {
        parse_args(args).unwrap_err().to_string()
    }

    #[test]
    fn arguments_are_checked() {
        let a = parse_args(quote!(
            event = "user_deleted",
            sensitive_fields = ["email", "ssn"],
            retention = "7y",
            immutable = true
        ))
        .unwrap();
        assert_eq!(a.event, "user_deleted");
        assert_eq!(
            a.sensitive
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>(),
            ["email", "ssn"]
        );
        assert_eq!(a.retention, "7y");
        assert!(
            err(quote!(event = "x", retention = "7y", immutable = false))
                .contains("always immutable")
        );
        assert!(err(quote!(retention = "7y")).contains("needs an `event`"));
        assert!(err(quote!(event = "x")).contains("needs a `retention`"));
        assert!(
            err(quote!(event = "User Deleted", retention = "7y")).contains("not an event name")
        );
        assert!(err(quote!(event = "x", retention = "7 years")).contains("is not a retention"));
        assert!(
            err(quote!(event = "x", retention = "7y", sensitive = ["a"])).contains("sensitive")
        );
    }

    fn parsed(f: TokenStream) -> syn::Result<Parsed> {
        let args = parse_args(quote!(
            event = "e",
            sensitive_fields = ["email"],
            retention = "1y"
        ))
        .unwrap();
        parse_fn(args, &syn::parse2(f).unwrap())
    }

    #[test]
    fn parameters_are_sorted_into_actor_executor_and_recorded() {
        let p = parsed(quote!(
            async fn delete(
                tx: &Transaction,
                auth: &AuthContext,
                id: i64,
                email: String,
            ) -> Result<(), E> {
            }
        ))
        .unwrap();
        assert_eq!(
            p.actor.as_ref().map(|(i, r)| (i.to_string(), *r)),
            Some(("auth".into(), true))
        );
        assert_eq!(
            p.executor.as_ref().map(|(i, r)| (i.to_string(), *r)),
            Some(("tx".into(), true))
        );
        assert_eq!(
            p.recorded
                .iter()
                .map(|(i, _)| i.to_string())
                .collect::<Vec<_>>(),
            ["id", "email"]
        );
        assert!(p.is_sensitive("email") && !p.is_sensitive("id"));

        let e = parsed(quote!(
            async fn f(id: i64) -> Result<(), E> {}
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("`email` is not an argument of this function"),
            "{e}"
        );
        let e = parsed(quote!(
            fn f(email: String) -> u32 {}
        ))
        .unwrap_err();
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert!(
            all[0].starts_with("#[Audit::log] goes on an async function\n\nhelp: "),
            "{all:?}"
        );
        assert!(
            all[1].starts_with("#[Audit::log] needs a function returning `Result`\n\nhelp: "),
            "{all:?}"
        );
        assert_eq!(all.len(), 2);
    }
}

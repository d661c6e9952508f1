//! The record around the body: the arguments are captured before it runs (sensitive ones
//! as keyed hashes), the body runs, and its outcome is recorded:
//!
//! - `Ok`: through the function's executor, so inside its transaction the record commits or
//!   rolls back with the change; a record that cannot be written fails the call (the error
//!   converted by `From<cell_runtime::Error>`).
//! - `Err`: as `error:<kind>`, written after the transaction ends when there is one (so a
//!   rolled-back attempt is still on record, outside it), else at once; a failure to write it
//!   is logged, and the call's own error returned.
//!
//! The body runs with the call's actor in scope (`cell_runtime::Audit::acting_as`).
//!
//! It cannot fail: [`crate::parse`] validated everything. The generated code names everything
//! through `::cell_runtime::__private::audit` and leaks no names.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;

use crate::declare::AuditDecl;
use crate::lock::Lock;
use crate::parse::Parsed;

/// The declaration recorded for a parsed attribute on the function `function`.
pub fn declaration(function: &str, parsed: &Parsed) -> AuditDecl {
    AuditDecl {
        function: function.to_string(),
        event: parsed.args.event.clone(),
        args: parsed
            .recorded
            .iter()
            .map(|(i, _)| i.to_string())
            .filter(|n| !parsed.is_sensitive(n))
            .collect(),
        sensitive: parsed
            .recorded
            .iter()
            .map(|(i, _)| i.to_string())
            .filter(|n| parsed.is_sensitive(n))
            .collect(),
        retention: parsed.args.retention.clone(),
    }
}

/// Whether the audit is the one `.cell/audit.lock.json` (at `path`) holds: one that differs or
/// that the lock does not list was not through `cargo cell plan` and `cargo cell build`.
pub fn check_against_lock(decl: &AuditDecl, lock: &Lock, path: &Path) -> Result<(), String> {
    let name = decl.name();
    let file = path.display();
    match lock.declarations().into_iter().find(|d| d.name() == name) {
        Some(locked) if &locked == decl => Ok(()),
        Some(locked) => Err(format!(
            "the audit of `{name}` is {}, but {file} says {}\n\nhelp: run `cargo cell plan` to review the change, then `cargo cell build` to lock it",
            decl.describe(),
            locked.describe()
        )),
        None => Err(format!(
            "the audit of `{name}` ({}) is not in {file}\n\nhelp: run `cargo cell plan` to review the new audit, then `cargo cell build` to lock it",
            decl.describe()
        )),
    }
}

/// The function with its record around the body. `lock` is the lock the audit was checked
/// against, if any: the crate then depends on it, so a new lock recompiles it.
pub fn expand(
    mut item: ItemFn,
    decl: &AuditDecl,
    parsed: &Parsed,
    lock: Option<&Path>,
) -> TokenStream {
    let rt = quote!(::cell_runtime::__private::audit);
    let (event, function) = (&decl.event, &decl.function);
    let actor = match &parsed.actor {
        Some((ident, true)) => quote!(::core::option::Option::Some(#rt::actor(#ident))),
        Some((ident, false)) => quote!(::core::option::Option::Some(#rt::actor(&#ident))),
        None => quote!(::core::option::Option::None),
    };
    // Spanned at each argument: a type that is not `Serialize`, or that holds personal data
    // (`#[Security::pii]`) recorded in the clear, is reported there.
    let args = parsed.recorded.iter().map(|(ident, ty)| {
        let name = ident.to_string();
        if parsed.is_sensitive(&name) {
            quote_spanned!(ident.span()=> __cell_audit_call.sensitive(#name, &#ident);)
        } else {
            let refuse = cell_core::macros::refuse_pii(
                ty,
                &item.sig.generics,
                ident,
                &format!(
                    "`{name}` holds personal data (#[Security::pii]): the audit would record it in the clear\n\nhelp: list it in `sensitive_fields = [\"{name}\"]` to record its keyed hash only"
                ),
            );
            quote_spanned!(ident.span()=> #refuse __cell_audit_call.arg(#name, &#ident);)
        }
    });
    // A transaction or pool taken by value is cloned (both are handles): the body may move it.
    let executor = match &parsed.executor {
        Some((ident, true)) => {
            quote!(let __cell_audit_executor = ::core::option::Option::Some(#ident);)
        }
        Some((ident, false)) => quote!(
            let __cell_audit_owned = ::core::clone::Clone::clone(&#ident);
            let __cell_audit_executor = ::core::option::Option::Some(&__cell_audit_owned);
        ),
        None => quote!(
            let __cell_audit_executor = ::core::option::Option::<&::cell_runtime::PostgresConnection>::None;
        ),
    };
    let output = match &item.sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    // Spanned at the return type: an error type without `From<cell_runtime::Error>` is
    // reported there.
    let fail = quote_spanned!(parsed.return_span=>
        return ::core::result::Result::Err(
            ::cell_runtime::__private::audit::FromAuditFailure::from_audit_failure(__cell_audit_failed)
        )
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
        static __CELL_AUDIT_EVENT: #rt::Event = #rt::Event { event: #event, function: #function };
        let __cell_audit_actor: ::core::option::Option<::std::string::String> = #actor;
        let mut __cell_audit_call = #rt::Call::new(&__CELL_AUDIT_EVENT, ::core::clone::Clone::clone(&__cell_audit_actor));
        #(#args)*
        #executor
        // The body runs with the call's actor in scope: its reads of protected health
        // information, and audited calls without an `AuthContext`, are recorded as its.
        let __cell_audit_result: #output = #rt::in_scope(__cell_audit_actor, async #block).await;
        match &__cell_audit_result {
            ::core::result::Result::Ok(_) => {
                if let ::core::result::Result::Err(__cell_audit_failed) =
                    __cell_audit_call.ok(__cell_audit_executor).await
                {
                    #fail;
                }
            }
            ::core::result::Result::Err(__cell_audit_error) => {
                __cell_audit_call.error(__cell_audit_executor, __cell_audit_error).await;
            }
        }
        __cell_audit_result
    });
    *item.block = syn::parse2(body).expect("the record is a block");
    quote!(#item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_args, parse_fn};

    fn parsed(f: TokenStream) -> (ItemFn, Parsed) {
        let item: ItemFn = syn::parse2(f).unwrap();
        let args = parse_args(quote!(
            event = "user_deleted",
            sensitive_fields = ["email"],
            retention = "7y"
        ))
        .unwrap();
        let p = parse_fn(args, &item).unwrap();
        (item, p)
    }

    #[test]
    fn the_record_wraps_the_body() {
        let (item, p) = parsed(quote!(
            async fn delete(
                tx: &Transaction,
                auth: AuthContext,
                id: i64,
                email: String,
            ) -> Result<u64, E> {
                Ok(1)
            }
        ));
        let decl = declaration("app::delete", &p);
        assert_eq!(decl.args, ["id"]);
        assert_eq!(decl.sensitive, ["email"]);
        let out = expand(item, &decl, &p, None).to_string();
        assert!(
            out.contains("event : \"user_deleted\" , function : \"app::delete\""),
            "{out}"
        );
        assert!(out.contains("actor (& auth)"), "{out}");
        assert!(out.contains("arg (\"id\" , & id)"), "{out}");
        assert!(out.contains("sensitive (\"email\" , & email)"), "{out}");
        assert!(out.contains("Some (tx)"), "{out}");
        assert!(
            out.contains("in_scope (__cell_audit_actor , async { Ok (1) }) . await"),
            "the body runs as the call's actor: {out}"
        );
        let captured = out.find("sensitive (").unwrap();
        let body = out.find("Ok (1)").unwrap();
        assert!(
            captured < body && body < out.find(". ok (").unwrap(),
            "{out}"
        );
        assert!(!out.contains("include_bytes"), "{out}");
    }

    #[test]
    fn without_an_executor_the_pool_writes() {
        let (item, p) = parsed(quote!(
            async fn f(email: &str) -> Result<(), E> {
                Ok(())
            }
        ));
        let decl = declaration("app::f", &p);
        let out = expand(
            item,
            &decl,
            &p,
            Some(Path::new("/ws/.cell/audit.lock.json")),
        )
        .to_string();
        assert!(
            out.contains("Option :: < & :: cell_runtime :: PostgresConnection > :: None"),
            "{out}"
        );
        assert!(
            out.contains("include_bytes ! (\"/ws/.cell/audit.lock.json\")"),
            "{out}"
        );
    }

    #[test]
    fn an_audit_is_checked_against_the_lock() {
        let (_, p) = parsed(quote!(
            async fn f(email: &str) -> Result<(), E> {}
        ));
        let decl = declaration("app::f", &p);
        let path = Path::new("/ws/.cell/audit.lock.json");
        assert_eq!(
            check_against_lock(&decl, &Lock::desired(std::slice::from_ref(&decl)), path),
            Ok(())
        );
        let new = check_against_lock(&decl, &Lock::desired(&[]), path).unwrap_err();
        assert!(new.starts_with("the audit of `app::f` (event user_deleted, sensitive email, kept 7y) is not in /ws/.cell/audit.lock.json"), "{new}");
        let mut other = decl.clone();
        other.retention = "1y".into();
        let changed = check_against_lock(&decl, &Lock::desired(&[other]), path).unwrap_err();
        assert!(
            changed.contains(
                "but /ws/.cell/audit.lock.json says event user_deleted, sensitive email, kept 1y"
            ),
            "{changed}"
        );
    }
}

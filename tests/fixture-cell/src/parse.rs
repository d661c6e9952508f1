//! From the attribute to a declaration, keeping spans: `#[Kv::entry(key = "...", value =
//! "...")]` on a `const` or `fn` item. Every mistake is collected, so a user sees all of them
//! at once; nothing here panics.

use proc_macro2::{Span, TokenStream};
use syn::LitStr;
use syn::parse::Parser as _;
use syn::spanned::Spanned as _;

use cell_core::macros::Errors;

use crate::declare::{EntryDecl, valid_key};

/// The attribute's arguments, with their spans.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: LitStr,
    pub value: LitStr,
}

impl Entry {
    pub fn decl(&self) -> EntryDecl {
        EntryDecl::new(self.key.value(), self.value.value())
    }
}

/// Parses the arguments of `#[Kv::entry(...)]` and checks the item it is on.
pub fn entry(args: TokenStream, item: &TokenStream) -> Result<Entry, syn::Error> {
    let mut errors = Errors::default();
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Const(_) | syn::Item::Fn(_)) => {}
        Ok(other) => errors.at(
            other.span(),
            "#[Kv::entry] goes on a `const` or a `fn` item\n\nhelp: write it above `const GREETING: &str = \"greeting\";`",
        ),
        Err(e) => errors.push(e),
    }
    let mut key: Option<LitStr> = None;
    let mut value: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident("key") {
            Some(&mut key)
        } else if meta.path.is_ident("value") {
            Some(&mut value)
        } else {
            None
        };
        let Some(slot) = slot else {
            let name = quote::ToTokens::to_token_stream(&meta.path).to_string();
            errors.at(
                meta.path.span(),
                format!("unknown argument `{name}` of #[Kv::entry]\n\nhelp: it takes `key = \"...\"` and `value = \"...\"`"),
            );
            // Skip its value, so the arguments after it are still read.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
            return Ok(());
        };
        let lit: LitStr = meta.value()?.parse()?;
        if slot.is_some() {
            errors.at(lit.span(), "given twice\n\nhelp: keep one");
        } else {
            *slot = Some(lit);
        }
        Ok(())
    });
    // After a syntax error the rest of the arguments is unread: do not call them missing.
    let unreadable = parser.parse2(args).map_err(|e| errors.push(e)).is_err();
    if let Some(k) = &key
        && !valid_key(&k.value())
    {
        errors.at(
            k.span(),
            format!(
                "`{}` is not a Kv key\n\nhelp: use letters, digits and `_ : . -`, not starting with `.`",
                k.value()
            ),
        );
    }
    let missing = |what: &str| {
        format!(
            "#[Kv::entry] needs `{what} = \"...\"`\n\nhelp: write `#[Kv::entry(key = \"greeting\", value = \"hello\")]`"
        )
    };
    if key.is_none() && !unreadable {
        errors.at(Span::call_site(), missing("key"));
    }
    if value.is_none() && !unreadable {
        errors.at(Span::call_site(), missing("value"));
    }
    errors.finish()?;
    match (key, value) {
        (Some(key), Some(value)) => Ok(Entry { key, value }),
        // Unreachable: a missing argument or a syntax error pushed an error above.
        _ => Err(syn::Error::new(Span::call_site(), missing("key"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(args: TokenStream, item: TokenStream) -> Vec<String> {
        match entry(args, &item) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string().lines().next().unwrap_or_default().to_string())
                .collect(),
        }
    }

    #[test]
    fn reads_key_and_value_on_a_const_or_fn() {
        let e = entry(
            quote!(key = "greeting", value = "hello"),
            &quote!(
                pub const GREETING: &str = "greeting";
            ),
        )
        .unwrap();
        assert_eq!(e.decl(), EntryDecl::new("greeting", "hello"));
        let e = entry(
            quote!(value = "v", key = "k"),
            &quote!(
                fn f() {}
            ),
        )
        .unwrap();
        assert_eq!(e.decl(), EntryDecl::new("k", "v"));
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        assert_eq!(
            messages(
                quote!(key = "a/b", colour = 3, key = "x"),
                quote!(
                    struct S;
                )
            ),
            [
                "#[Kv::entry] goes on a `const` or a `fn` item",
                "unknown argument `colour` of #[Kv::entry]",
                "given twice",
                "`a/b` is not a Kv key",
                "#[Kv::entry] needs `value = \"...\"`",
            ]
        );
        assert_eq!(
            messages(
                quote!(),
                quote!(
                    const A: u8 = 1;
                )
            ),
            [
                "#[Kv::entry] needs `key = \"...\"`",
                "#[Kv::entry] needs `value = \"...\"`",
            ]
        );
        assert_eq!(
            messages(
                quote!(key = 1, value = "v"),
                quote!(
                    const A: u8 = 1;
                )
            ),
            ["expected string literal"]
        );
    }
}

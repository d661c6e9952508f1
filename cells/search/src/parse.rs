//! `#[Search::index(...)]` among a `#[Postgres::table]` struct's attributes: read (and
//! removed) by the table's macro, then checked against the table's columns. Every mistake
//! is collected, so a user sees all of them at once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, LitBool, LitStr};

use cell_core::macros::{Errors, error, error_spanned, unknown_key};

use crate::decl::{LANGUAGES, SearchDecl, Weight};
use crate::{NAMESPACE, VECTOR_COLUMN};

const KEYS_HELP: &str = "write `#[Search::index(fields = [\"name\", \"description\"], language = \"english\", weights = [\"A\", \"B\"], fuzzy = true)]`; only `fields` is required (language defaults to \"english\", weights to A, B, C, then D)";

/// A parsed `#[Search::index]` with the spans later errors point at.
#[derive(Debug, Clone)]
pub struct ParsedSearch {
    pub decl: SearchDecl,
    /// The attribute, for errors about the whole of it.
    pub tokens: TokenStream,
    /// Parallel to `decl.fields`.
    pub fields: Vec<LitStr>,
    /// The `weights = [...]` list, if written.
    pub weights_span: Option<Span>,
}

/// `Search::index` → true; also `cell_runtime::Search::index`.
pub fn is_search_index(attr: &Attribute) -> bool {
    let segs: Vec<_> = attr.path().segments.iter().collect();
    matches!(segs.as_slice(), [.., ns, name] if ns.ident == NAMESPACE && name.ident == "index")
}

/// Takes every `#[Search::index]` out of `attrs`. A table has one search document: a second
/// attribute is an error.
pub fn take(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> Option<ParsedSearch> {
    let mut found: Option<ParsedSearch> = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if !is_search_index(&attr) {
            kept.push(attr);
            continue;
        }
        if found.is_some() {
            errors.push(error_spanned(
                &attr,
                "the table has two #[Search::index]",
                "a table has one search document: list every field in one `fields = [...]`",
            ));
            continue;
        }
        found = parse_one(&attr, errors);
    }
    *attrs = kept;
    found
}

fn parse_one(attr: &Attribute, errors: &mut Errors) -> Option<ParsedSearch> {
    let mut fields: Option<Vec<LitStr>> = None;
    let mut weights: Option<(Vec<LitStr>, Span)> = None;
    let mut language: Option<LitStr> = None;
    let mut fuzzy = false;
    let strings = |meta: &syn::meta::ParseNestedMeta, key: &str| -> syn::Result<Vec<LitStr>> {
        let list: syn::ExprArray = meta.value()?.parse().map_err(|e| {
            error(
                e.span(),
                &format!("`{key}` takes a list of strings: `{key} = [\"...\", \"...\"]`"),
                KEYS_HELP,
            )
        })?;
        list.elems
            .iter()
            .map(|e| match e {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Ok(s.clone()),
                other => Err(error(
                    other.span(),
                    &format!("`{key}` takes string literals"),
                    KEYS_HELP,
                )),
            })
            .collect()
    };
    let result = match &attr.meta {
        syn::Meta::List(_) => attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("fields") {
                fields = Some(strings(&meta, "fields")?);
            } else if meta.path.is_ident("weights") {
                let span = meta.path.span();
                weights = Some((strings(&meta, "weights")?, span));
            } else if meta.path.is_ident("language") {
                language = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("fuzzy") {
                fuzzy = match meta.value() {
                    Ok(v) => v.parse::<LitBool>()?.value,
                    Err(_) => true,
                };
            } else {
                return Err(unknown_key(&meta.path, "Search::index", KEYS_HELP));
            }
            Ok(())
        }),
        _ => Err(error_spanned(
            attr,
            "#[Search::index] needs the fields it searches",
            KEYS_HELP,
        )),
    };
    if let Err(e) = result {
        errors.push(e);
        return None;
    }
    let Some(fields) = fields else {
        errors.push(error_spanned(
            attr,
            "#[Search::index] needs `fields = [...]`: the text fields it searches",
            KEYS_HELP,
        ));
        return None;
    };
    let mut ok = true;
    if fields.is_empty() {
        errors.push(error_spanned(attr, "`fields` is empty", KEYS_HELP));
        ok = false;
    }
    let language_text = match &language {
        None => "english".to_string(),
        Some(lit) if LANGUAGES.contains(&lit.value().as_str()) => lit.value(),
        Some(lit) => {
            errors.error(
                lit.span(),
                &format!(
                    "`{}` is not a text search configuration of Postgres",
                    lit.value()
                ),
                &format!("use one of: {}", LANGUAGES.join(", ")),
            );
            ok = false;
            String::new()
        }
    };
    let weights_span = weights.as_ref().map(|(_, s)| *s);
    let weights = match weights {
        None => (0..fields.len()).map(Weight::by_position).collect(),
        Some((lits, span)) => {
            if lits.len() != fields.len() {
                errors.error(
                    span,
                    &format!(
                        "{} for {}",
                        count(lits.len(), "weight"),
                        count(fields.len(), "field")
                    ),
                    "give one weight per field, in the same order: `fields = [\"name\", \"description\"], weights = [\"A\", \"B\"]`",
                );
                ok = false;
            }
            lits.iter()
                .filter_map(|l| {
                    let w = Weight::parse(&l.value());
                    if w.is_none() {
                        errors.error(
                            l.span(),
                            &format!("`{}` is not a weight", l.value()),
                            "a weight is \"A\" (counts most), \"B\", \"C\" or \"D\" (least)",
                        );
                        ok = false;
                    }
                    w
                })
                .collect()
        }
    };
    ok.then(|| ParsedSearch {
        decl: SearchDecl {
            fields: fields.iter().map(LitStr::value).collect(),
            weights,
            language: language_text,
            fuzzy,
        },
        tokens: attr.to_token_stream(),
        fields,
        weights_span,
    })
}

/// A column of the table, as the check needs it.
pub struct ColumnInfo<'a> {
    pub name: &'a str,
    pub sql_type: &'a str,
}

/// Whether Postgres can make a `tsvector` of the column: text and varchar.
fn is_text(sql_type: &str) -> bool {
    sql_type == "text" || sql_type.starts_with("character varying")
}

/// Checks the declaration against the table's columns.
pub fn validate(parsed: &ParsedSearch, columns: &[ColumnInfo<'_>], errors: &mut Errors) {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    if names.contains(&VECTOR_COLUMN) {
        errors.push(error_spanned(
            &parsed.tokens,
            &format!("the table already has a field `{VECTOR_COLUMN}`, the column #[Search::index] generates"),
            &format!("rename the field (`#[Postgres::renamed_from(\"{VECTOR_COLUMN}\")]` on it keeps its data)"),
        ));
    }
    for (i, lit) in parsed.fields.iter().enumerate() {
        let name = lit.value();
        if parsed.fields[..i].iter().any(|l| l.value() == name) {
            errors.error(
                lit.span(),
                &format!("`{name}` is listed twice"),
                "list each field once; its weight says how much it counts",
            );
            continue;
        }
        match columns.iter().find(|c| c.name == name) {
            None => errors.error(
                lit.span(),
                &format!("the table has no field `{name}`"),
                &format!("search one of its text fields: {}", text_fields(columns)),
            ),
            Some(c) if !is_text(c.sql_type) => errors.error(
                lit.span(),
                &format!("field `{name}` is `{}`, not text", c.sql_type),
                &format!(
                    "#[Search::index] searches `String` (or `Option<String>`) fields: {}",
                    text_fields(columns)
                ),
            ),
            Some(_) => {}
        }
    }
}

/// `1 field`, `2 fields`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn text_fields(columns: &[ColumnInfo<'_>]) -> String {
    let text: Vec<String> = columns
        .iter()
        .filter(|c| is_text(c.sql_type))
        .map(|c| format!("`{}`", c.name))
        .collect();
    if text.is_empty() {
        "this table has none".into()
    } else {
        text.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn attrs(tokens: proc_macro2::TokenStream) -> Vec<Attribute> {
        let item: syn::ItemStruct = syn::parse2(quote!(#tokens struct S {})).unwrap();
        item.attrs
    }

    fn messages(errors: Errors) -> String {
        match errors.finish() {
            Ok(()) => String::new(),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n---\n"),
        }
    }

    fn columns() -> Vec<ColumnInfo<'static>> {
        vec![
            ColumnInfo {
                name: "id",
                sql_type: "uuid",
            },
            ColumnInfo {
                name: "name",
                sql_type: "text",
            },
            ColumnInfo {
                name: "description",
                sql_type: "character varying(2000)",
            },
            ColumnInfo {
                name: "price",
                sql_type: "numeric",
            },
        ]
    }

    #[test]
    fn reads_every_key_and_leaves_other_attributes() {
        let mut a = attrs(quote! {
            #[derive(Debug)]
            #[Search::index(fields = ["name", "description"], language = "simple", weights = ["B", "D"], fuzzy)]
        });
        let mut errors = Errors::default();
        let parsed = take(&mut a, &mut errors).unwrap();
        assert_eq!(messages(errors), "");
        assert_eq!(a.len(), 1);
        assert_eq!(parsed.decl.fields, ["name", "description"]);
        assert_eq!(parsed.decl.weights, [Weight::B, Weight::D]);
        assert_eq!(parsed.decl.language, "simple");
        assert!(parsed.decl.fuzzy);
        let mut errors = Errors::default();
        validate(&parsed, &columns(), &mut errors);
        assert_eq!(messages(errors), "");
    }

    #[test]
    fn defaults_are_english_and_weights_by_position() {
        let mut a = attrs(
            quote!(#[cell_runtime::Search::index(fields = ["name", "description"], fuzzy = false)]),
        );
        let mut errors = Errors::default();
        let parsed = take(&mut a, &mut errors).unwrap();
        assert_eq!(messages(errors), "");
        assert_eq!(parsed.decl.language, "english");
        assert_eq!(parsed.decl.weights, [Weight::A, Weight::B]);
        assert!(!parsed.decl.fuzzy);
    }

    #[test]
    fn every_mistake_is_reported_with_help() {
        let mut a = attrs(
            quote!(#[Search::index(fields = ["name"], weights = ["A", "Z"], language = "klingon")]),
        );
        let mut errors = Errors::default();
        assert!(take(&mut a, &mut errors).is_none());
        let text = messages(errors);
        assert!(
            text.contains("`klingon` is not a text search configuration"),
            "{text}"
        );
        assert!(text.contains("use one of: simple, arabic"), "{text}");
        assert!(text.contains("2 weights for 1 field"), "{text}");
        assert!(text.contains("`Z` is not a weight"), "{text}");

        for (tokens, expected) in [
            (quote!(#[Search::index]), "needs the fields"),
            (
                quote!(#[Search::index(language = "english")]),
                "needs `fields = [...]`",
            ),
            (quote!(#[Search::index(fields = [])]), "`fields` is empty"),
            (
                quote!(#[Search::index(fields = ["a"], rank = "x")]),
                "unknown key `rank`",
            ),
            (
                quote!(#[Search::index(fields = [name])]),
                "`fields` takes string literals",
            ),
        ] {
            let mut a = attrs(tokens);
            let mut errors = Errors::default();
            assert!(take(&mut a, &mut errors).is_none());
            let text = messages(errors);
            assert!(text.contains(expected), "{expected}: {text}");
            assert!(text.contains("help:"), "{text}");
        }
    }

    #[test]
    fn fields_must_be_text_columns_of_the_table() {
        let mut a = attrs(quote!(#[Search::index(fields = ["name", "price", "nope", "name"])]));
        let mut errors = Errors::default();
        let parsed = take(&mut a, &mut errors).unwrap();
        assert_eq!(messages(errors), "");
        let mut errors = Errors::default();
        validate(&parsed, &columns(), &mut errors);
        let text = messages(errors);
        assert!(
            text.contains("field `price` is `numeric`, not text"),
            "{text}"
        );
        assert!(text.contains("the table has no field `nope`"), "{text}");
        assert!(
            text.contains("search one of its text fields: `name`, `description`"),
            "{text}"
        );
        assert!(text.contains("`name` is listed twice"), "{text}");
    }

    #[test]
    fn two_indexes_on_one_table_are_refused() {
        let mut a = attrs(quote! {
            #[Search::index(fields = ["name"])]
            #[Search::index(fields = ["description"])]
        });
        let mut errors = Errors::default();
        assert!(take(&mut a, &mut errors).is_some());
        assert!(messages(errors).contains("two #[Search::index]"));
        assert!(a.is_empty());
    }
}

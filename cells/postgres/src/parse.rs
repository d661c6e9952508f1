//! From `#[Postgres::table]` and its field attributes to a [`TableDecl`], keeping the spans
//! every later error points at. Every mistake is collected, so a user sees all of them at
//! once; validation of the whole declaration follows in [`validate`].

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, ItemStruct, LitStr, Meta};

use crate::declare::{ColumnDecl, ForeignKeyDecl, IndexDecl, TableDecl};
use crate::ident;
use crate::schema::FkAction;
use crate::types::{self, RustType};

/// The attribute namespace.
pub const NAMESPACE: &str = "Postgres";

const TABLE_KEYS_HELP: &str =
    "supported keys: `name = \"...\"` (default: the struct's name in snake_case, plural)";
const FIELD_ATTRS_HELP: &str = "supported field attributes: `#[Postgres::primary_key]`, `#[Postgres::index]`, \
     `#[Postgres::index(unique)]`, `#[Postgres::unique]`, `#[Postgres::default(\"SQL expression\")]`, \
     `#[Postgres::foreign_key(ref = \"table.column\", on_delete = \"cascade\")]`";

/// A parsed table with the spans of what it came from.
#[derive(Debug)]
pub struct ParsedTable {
    pub decl: TableDecl,
    pub struct_ident: syn::Ident,
    /// Per column, in field order.
    pub field_idents: Vec<syn::Ident>,
    pub field_types: Vec<syn::Type>,
}

/// Collects errors instead of stopping at the first (as serde_derive's `Ctxt`).
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn error(&mut self, span: Span, message: &str, help: &str) {
        self.push(error(span, message, help));
    }

    pub fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// An error whose text carries its help on a second line, as rustc shows `help:` notes.
pub fn error(span: Span, message: &str, help: &str) -> syn::Error {
    if help.is_empty() {
        syn::Error::new(span, message)
    } else {
        syn::Error::new(span, format!("{message}\n\nhelp: {help}"))
    }
}

/// An error over the whole of `tokens` (first to last token, also on stable rustc).
pub fn error_spanned(tokens: impl quote::ToTokens, message: &str, help: &str) -> syn::Error {
    let text = if help.is_empty() {
        message.to_string()
    } else {
        format!("{message}\n\nhelp: {help}")
    };
    syn::Error::new_spanned(tokens, text)
}

/// A type as written, tidied: `HashMap<String, String>`.
pub fn type_text(ty: &syn::Type) -> String {
    let raw = quote::ToTokens::to_token_stream(ty).to_string();
    raw.replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" <", "<")
}

/// `Postgres::index` → `Some("index")`; also `cell_runtime::Postgres::index`.
pub fn namespaced_name(attr: &Attribute, namespace: &str) -> Option<String> {
    let segs: Vec<_> = attr.path().segments.iter().collect();
    match segs.as_slice() {
        [.., ns, name] if ns.ident == namespace => Some(name.ident.to_string()),
        _ => None,
    }
}

/// Parses the item and strips its `Postgres::` field attributes from `item`.
pub fn parse_table(args: TokenStream, item: &mut ItemStruct) -> Result<ParsedTable, syn::Error> {
    let (parsed, errors) = parse_table_lenient(args, item);
    errors.finish().map(|()| parsed)
}

/// Like [`parse_table`], but returns what could be parsed beside the errors, so that the
/// expansion can still give the struct its API and the user sees only the real mistakes.
pub fn parse_table_lenient(args: TokenStream, item: &mut ItemStruct) -> (ParsedTable, Errors) {
    let mut errors = Errors::default();
    let mut name: Option<String> = None;

    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            if !ident::is_plain(&lit.value()) {
                return Err(error(
                    lit.span(),
                    &format!("`{}` is not a valid table name", lit.value()),
                    "use lower-case letters, digits and `_`, starting with a letter or `_`, at most 63 bytes",
                ));
            }
            name = Some(lit.value());
            Ok(())
        } else {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            Err(error(
                meta.path.span(),
                &format!("unknown key `{key}` in #[Postgres::table]"),
                TABLE_KEYS_HELP,
            ))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }

    let generic_params: Vec<String> = item
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    if !item.generics.params.is_empty() {
        errors.push(error_spanned(
            &item.generics,
            "#[Postgres::table] does not support generic structs",
            "a table has one fixed shape: remove the generic parameters",
        ));
    }

    let rust_name = item.ident.to_string();
    let table_name = name.unwrap_or_else(|| ident::default_table_name(&rust_name));
    let mut columns = Vec::new();
    let mut field_idents = Vec::new();
    let mut field_types = Vec::new();

    match &mut item.fields {
        Fields::Named(fields) => {
            for field in fields.named.iter_mut() {
                let ident = field.ident.clone().expect("named field");
                let generic = matches!(&field.ty, syn::Type::Path(p) if p.path.get_ident().is_some_and(|i| generic_params.contains(&i.to_string())));
                let column = parse_field(&ident, &field.ty, generic, &mut field.attrs, &mut errors);
                columns.push(column);
                field_idents.push(ident);
                field_types.push(field.ty.clone());
            }
        }
        _ => errors.error(
            item.ident.span(),
            "#[Postgres::table] goes on a struct with named fields",
            "write `struct Name { id: Uuid, ... }`",
        ),
    }

    let parsed = ParsedTable {
        decl: TableDecl {
            rust_name,
            name: table_name,
            columns,
            renamed_from: None,
            indexes: Vec::new(),
            checks: Vec::new(),
        },
        struct_ident: item.ident.clone(),
        field_idents,
        field_types,
    };
    (parsed, errors)
}

fn parse_field(
    ident: &syn::Ident,
    ty: &syn::Type,
    generic: bool,
    attrs: &mut Vec<Attribute>,
    errors: &mut Errors,
) -> ColumnDecl {
    let name = ident.to_string().trim_start_matches("r#").to_string();
    let rust = rust_type(ty);
    let mapping = rust.as_ref().and_then(types::map);
    // A generic parameter is already reported on the struct.
    if mapping.is_none() && !generic {
        let written = type_text(ty);
        errors.push(error_spanned(
            ty,
            &format!("field `{name}` has type `{written}`, which has no Postgres column type"),
            &format!("supported types: {}", types::supported_types()),
        ));
    }
    let (sql_type, nullable) = mapping
        .map(|m| (m.sql_type, m.nullable))
        .unwrap_or_default();
    let mut column = ColumnDecl {
        rust_type: rust.map(|r| r.to_string()).unwrap_or_default(),
        name,
        sql_type,
        nullable,
        primary_key: false,
        index: None,
        default: None,
        foreign_key: None,
        renamed_from: None,
        enum_type: None,
    };

    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        match namespaced_name(&attr, NAMESPACE) {
            Some(kind) => {
                if let Err(e) = apply_field_attr(&kind, &attr, &mut column) {
                    errors.push(e);
                }
            }
            None => kept.push(attr),
        }
    }
    *attrs = kept;
    column
}

fn no_args(attr: &Attribute, kind: &str) -> syn::Result<()> {
    match &attr.meta {
        Meta::Path(_) => Ok(()),
        other => Err(error_spanned(
            other,
            &format!("#[Postgres::{kind}] takes no arguments"),
            &format!("write `#[Postgres::{kind}]`"),
        )),
    }
}

fn apply_field_attr(kind: &str, attr: &Attribute, column: &mut ColumnDecl) -> syn::Result<()> {
    match kind {
        "primary_key" => {
            no_args(attr, kind)?;
            column.primary_key = true;
        }
        "unique" => {
            no_args(attr, kind)?;
            column.index = Some(IndexDecl { unique: true });
        }
        "index" => {
            let mut unique = false;
            if let Meta::List(_) = attr.meta {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("unique") {
                        unique = true;
                        Ok(())
                    } else {
                        let option = quote::ToTokens::to_token_stream(&meta.path).to_string();
                        Err(error_spanned(
                            &meta.path,
                            &format!("unknown option `{option}` in #[Postgres::index]"),
                            "did you mean `unique`? Write `#[Postgres::index]` or `#[Postgres::index(unique)]`",
                        ))
                    }
                })?;
            }
            column.index = Some(IndexDecl { unique });
        }
        "default" => {
            let lit: LitStr = match &attr.meta {
                Meta::List(_) => attr.parse_args()?,
                Meta::NameValue(nv) => syn::parse2(quote::ToTokens::to_token_stream(&nv.value))?,
                Meta::Path(p) => {
                    return Err(error_spanned(
                        p,
                        "#[Postgres::default] needs an SQL expression",
                        "write `#[Postgres::default(\"NOW()\")]`",
                    ));
                }
            };
            if lit.value().trim().is_empty() {
                return Err(error(
                    lit.span(),
                    "the default expression is empty",
                    "write `#[Postgres::default(\"0\")]`",
                ));
            }
            column.default = Some(lit.value());
        }
        "foreign_key" => {
            let mut target: Option<(String, String)> = None;
            let mut on_delete = FkAction::NoAction;
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("ref") || meta.path.is_ident("references") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let value = lit.value();
                    match value.split_once('.') {
                        Some((t, c)) if ident::is_plain(t) && ident::is_plain(c) => {
                            target = Some((t.to_string(), c.to_string()));
                            Ok(())
                        }
                        _ => Err(error(
                            lit.span(),
                            &format!("`{value}` is not a `table.column` reference"),
                            "write `ref = \"organizations.id\"`",
                        )),
                    }
                } else if meta.path.is_ident("on_delete") {
                    let lit: LitStr = meta.value()?.parse()?;
                    on_delete = FkAction::parse(&lit.value()).ok_or_else(|| {
                        error(
                            lit.span(),
                            &format!("unknown on_delete action `{}`", lit.value()),
                            "use one of \"cascade\", \"restrict\", \"set null\", \"set default\", \"no action\"",
                        )
                    })?;
                    Ok(())
                } else {
                    let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                    Err(error(
                        meta.path.span(),
                        &format!("unknown key `{key}` in #[Postgres::foreign_key]"),
                        "supported keys: `ref = \"table.column\"`, `on_delete = \"cascade\"`",
                    ))
                }
            })?;
            let Some((table, col)) = target else {
                return Err(error_spanned(
                    attr,
                    "#[Postgres::foreign_key] needs the column it references",
                    "write `#[Postgres::foreign_key(ref = \"organizations.id\")]`",
                ));
            };
            column.foreign_key = Some(ForeignKeyDecl {
                table,
                column: col,
                on_delete,
            });
        }
        other => {
            let name = attr.path().segments.last().expect("namespaced path");
            return Err(error(
                name.ident.span(),
                &format!("unknown attribute `Postgres::{other}` on a field"),
                FIELD_ATTRS_HELP,
            ));
        }
    }
    Ok(())
}

/// `Option<chrono::DateTime<Utc>>` → `Option<DateTime<Utc>>`; `None` for types that are
/// not paths (references, tuples, ...).
pub fn rust_type(ty: &syn::Type) -> Option<RustType> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let args = match &last.arguments {
                syn::PathArguments::None => Vec::new(),
                syn::PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .map(|arg| match arg {
                        syn::GenericArgument::Type(t) => rust_type(t),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                syn::PathArguments::Parenthesized(_) => return None,
            };
            Some(RustType::new(last.ident.to_string(), args))
        }
        syn::Type::Group(g) => rust_type(&g.elem),
        syn::Type::Paren(p) => rust_type(&p.elem),
        _ => None,
    }
}

/// Rules over the whole declaration.
pub fn validate(parsed: &ParsedTable) -> Result<(), syn::Error> {
    let mut errors = Errors::default();
    let decl = &parsed.decl;
    let pks: Vec<usize> = decl
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary_key)
        .map(|(i, _)| i)
        .collect();
    match pks.as_slice() {
        [] => errors.error(
            parsed.struct_ident.span(),
            &format!("table `{}` has no primary key", decl.name),
            "mark the identifying field with `#[Postgres::primary_key]`, e.g. `#[Postgres::primary_key] id: Uuid`",
        ),
        [_] => {}
        [_, rest @ ..] => {
            for &i in rest {
                errors.error(
                    parsed.field_idents[i].span(),
                    "a table can have only one `#[Postgres::primary_key]` field",
                    "composite primary keys are not supported yet: keep one key field and add a unique index",
                );
            }
        }
    }
    for (i, c) in decl.columns.iter().enumerate() {
        if !ident::is_plain(&c.name) {
            errors.error(
                parsed.field_idents[i].span(),
                &format!("`{}` is not a valid column name", c.name),
                "use a lower-case snake_case field name of at most 63 bytes",
            );
        }
        if c.primary_key && c.nullable {
            errors.push(error_spanned(
                &parsed.field_types[i],
                "the primary key cannot be an `Option`",
                "primary keys are NOT NULL: remove the `Option`",
            ));
        }
        if c.primary_key && c.index.is_some() {
            errors.error(
                parsed.field_idents[i].span(),
                "the primary key is already indexed and unique",
                "remove `#[Postgres::index]` from the primary key",
            );
        }
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(args: TokenStream, item: TokenStream) -> Result<(ParsedTable, ItemStruct), String> {
        let mut item: ItemStruct = syn::parse2(item).unwrap();
        let parsed = parse_table(args, &mut item).map_err(|e| e.to_string())?;
        validate(&parsed).map_err(|e| e.to_string())?;
        Ok((parsed, item))
    }

    #[test]
    fn parses_the_seed_syntax_and_strips_field_attributes() {
        let (parsed, item) = parse(
            quote!(name = "users"),
            quote! {
                struct User {
                    #[Postgres::primary_key] id: Uuid,
                    #[Postgres::index(unique)] email: String,
                    #[Postgres::default("NOW()")] created_at: DateTime<Utc>,
                    #[Postgres::foreign_key(ref = "organizations.id", on_delete = "cascade")] org_id: Uuid,
                    #[doc = "kept"] nickname: Option<String>,
                }
            },
        )
        .unwrap();
        let d = &parsed.decl;
        assert_eq!(d.name, "users");
        assert!(d.columns[0].primary_key);
        assert_eq!(d.columns[1].index, Some(IndexDecl { unique: true }));
        assert_eq!(d.columns[2].default.as_deref(), Some("NOW()"));
        assert_eq!(d.columns[2].sql_type, "timestamp with time zone");
        let fk = d.columns[3].foreign_key.as_ref().unwrap();
        assert_eq!(
            (fk.table.as_str(), fk.column.as_str(), fk.on_delete),
            ("organizations", "id", FkAction::Cascade)
        );
        assert!(d.columns[4].nullable);
        assert_eq!(d.columns[4].rust_type, "Option<String>");
        let remaining: usize = item.fields.iter().map(|f| f.attrs.len()).sum();
        assert_eq!(remaining, 1, "only the doc attribute stays");
    }

    #[test]
    fn name_defaults_to_snake_case_plural() {
        let (parsed, _) = parse(
            quote!(),
            quote!(
                struct UserAccount {
                    #[Postgres::primary_key]
                    id: i64,
                }
            ),
        )
        .unwrap();
        assert_eq!(parsed.decl.name, "user_accounts");
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let err = parse(
            quote!(nme = "x"),
            quote! {
                struct User {
                    id: u32,
                    #[Postgres::indx] email: String,
                }
            },
        )
        .unwrap_err();
        assert!(err.contains("unknown key `nme`"), "{err}");
        assert!(err.contains("help: supported keys"), "{err}");
        // syn joins combined errors' messages; the others are checked by the ui tests.
    }

    #[test]
    fn missing_primary_key() {
        let err = parse(
            quote!(),
            quote!(
                struct User {
                    email: String,
                }
            ),
        )
        .unwrap_err();
        assert!(err.contains("has no primary key"), "{err}");
    }

    #[test]
    fn unsupported_type_lists_the_supported_ones() {
        let err = parse(
            quote!(),
            quote!(
                struct User {
                    #[Postgres::primary_key]
                    id: u32,
                }
            ),
        )
        .unwrap_err();
        assert!(err.contains("`u32`"), "{err}");
        assert!(err.contains("`DateTime<Utc>`"), "{err}");
    }

    #[test]
    fn foreign_key_needs_a_reference() {
        let err = parse(
            quote!(),
            quote!(
                struct A {
                    #[Postgres::primary_key]
                    id: i64,
                    #[Postgres::foreign_key(on_delete = "cascade")]
                    b: i64,
                }
            ),
        )
        .unwrap_err();
        assert!(err.contains("needs the column it references"), "{err}");
        let err = parse(
            quote!(),
            quote!(
                struct A {
                    #[Postgres::primary_key]
                    id: i64,
                    #[Postgres::foreign_key(ref = "b.id", on_delete = "boom")]
                    b: i64,
                }
            ),
        )
        .unwrap_err();
        assert!(err.contains("unknown on_delete action `boom`"), "{err}");
    }

    #[test]
    fn full_paths_are_recognised() {
        let (parsed, _) = parse(
            quote!(),
            quote!(
                struct A {
                    #[cell_runtime::Postgres::primary_key]
                    id: i64,
                    #[Postgres::unique]
                    b: String,
                }
            ),
        )
        .unwrap();
        assert!(parsed.decl.columns[0].primary_key);
        assert_eq!(
            parsed.decl.columns[1].index,
            Some(IndexDecl { unique: true })
        );
    }
}

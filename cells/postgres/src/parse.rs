//! From `#[Postgres::table]` and its field attributes to a [`TableDecl`], keeping the spans
//! every later error points at. Every mistake is collected, so a user sees all of them at
//! once; validation of the whole declaration follows in [`validate`].

use proc_macro2::TokenStream;
use syn::{Attribute, Fields, ItemStruct, LitStr, Meta};

use crate::declare::{ColumnDecl, ForeignKeyDecl, IndexDecl, TableDecl, TableIndexDecl};
use crate::ident;
use crate::schema::FkAction;
use crate::types::{self, Classified, RustType};

/// The attribute namespace.
pub const NAMESPACE: &str = "Postgres";

const TABLE_KEYS_HELP: &str = "supported keys: `name = \"...\"` (default: the struct's name in snake_case, plural), \
     `indexes = [(\"email\", unique = true), (\"org_id\", \"created_at\"), (\"created_at\", descending = true)]`";
const FIELD_ATTRS_HELP: &str = "supported field attributes: `#[Postgres::primary_key]`, `#[Postgres::index]`, \
     `#[Postgres::index(unique)]`, `#[Postgres::unique]`, `#[Postgres::default(\"SQL expression\")]`, \
     `#[Postgres::foreign_key(ref = \"table.column\", on_delete = \"cascade\")]`, `#[Postgres::varchar(255)]`, \
     `#[Postgres::check(\"price >= 0\")]`, `#[Postgres::renamed_from(\"old_name\")]`, `#[Postgres::encrypted]`";
const STRUCT_ATTRS_HELP: &str = "supported struct attributes besides #[Postgres::table]: \
     `#[Postgres::check(\"SQL boolean expression\")]`, `#[Postgres::renamed_from(\"old_table\")]`; \
     full-text search is `#[Search::index(fields = [\"name\"])]`";
const INDEX_HELP: &str = "write each index as a tuple of column names and options: \
     `indexes = [(\"email\", unique = true), (\"org_id\", \"created_at\"), (\"created_at\", descending = true)]`; \
     `descending` also takes the columns it applies to: `descending = [\"created_at\"]`";
/// The field attributes, for telling a misplaced one from an unknown one.
const FIELD_ATTRS: &[&str] = &[
    "primary_key",
    "index",
    "unique",
    "default",
    "foreign_key",
    "varchar",
    "encrypted",
];

/// A parsed table with the spans of what it came from.
#[derive(Debug)]
pub struct ParsedTable {
    pub decl: TableDecl,
    pub struct_ident: syn::Ident,
    /// Per column, in field order.
    pub field_idents: Vec<syn::Ident>,
    pub field_types: Vec<syn::Type>,
    /// Per column: for a column holding a `#[derive(Postgres::Enum)]` enum, the enum's type
    /// as written (inside any `Option`/`Vec`).
    pub field_enums: Vec<Option<syn::Type>>,
    /// Per column: the `#[Postgres::renamed_from("...")]` literal.
    pub field_renames: Vec<Option<LitStr>>,
    /// Parallel to `decl.indexes`.
    pub indexes: Vec<IndexSpans>,
    /// Parallel to `decl.checks`.
    pub checks: Vec<LitStr>,
    /// `#[Postgres::renamed_from("...")]` on the struct.
    pub renamed_from: Option<LitStr>,
}

/// Where a table-level index was written.
#[derive(Debug, Clone)]
pub struct IndexSpans {
    /// The whole tuple.
    pub tokens: TokenStream,
    /// Per column of the index.
    pub columns: Vec<LitStr>,
    /// The names given to `descending = [...]`, if named.
    pub descending: Vec<LitStr>,
}

/// The one error collector (must be `finish()`ed) and the error with a `help:` note, from the
/// core: every Cell's macros collect their errors the same way.
pub use cell_core::macros::{Errors, error};

/// An error over the whole of `tokens` (first to last token, also on stable rustc).
pub use cell_core::macros::error_spanned;
use cell_core::macros::unknown_key;

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
    let mut indexes: Vec<(TableIndexDecl, IndexSpans)> = Vec::new();
    // Errors in one index do not stop the others from being read.
    let errors_in_args = std::cell::RefCell::new(Errors::default());

    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("indexes") {
            let list: syn::ExprArray = meta.value()?.parse().map_err(|e| {
                error(
                    e.span(),
                    "`indexes` takes a list: `indexes = [(\"email\", unique = true)]`",
                    INDEX_HELP,
                )
            })?;
            for elem in &list.elems {
                match parse_index(elem) {
                    Ok(ix) => indexes.push(ix),
                    Err(e) => errors_in_args.borrow_mut().push(e),
                }
            }
            Ok(())
        } else if meta.path.is_ident("name") {
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
            Err(unknown_key(&meta.path, "Postgres::table", TABLE_KEYS_HELP))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    if let Err(e) = errors_in_args.into_inner().finish() {
        errors.push(e);
    }
    let struct_level = parse_struct_attrs(&mut item.attrs, &mut errors);
    let search = cell_search::parse::take(&mut item.attrs, &mut errors);

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
    let mut field_enums = Vec::new();
    let mut field_renames = Vec::new();
    let mut checks = struct_level.checks;

    match &mut item.fields {
        Fields::Named(fields) => {
            for field in fields.named.iter_mut() {
                let ident = field.ident.clone().expect("named field");
                let generic = matches!(&field.ty, syn::Type::Path(p) if p.path.get_ident().is_some_and(|i| generic_params.contains(&i.to_string())));
                let field_out =
                    parse_field(&ident, &field.ty, generic, &mut field.attrs, &mut errors);
                field_enums.push(
                    field_out
                        .column
                        .enum_type
                        .as_ref()
                        .map(|_| enum_inner(&field.ty).clone()),
                );
                columns.push(field_out.column);
                checks.extend(field_out.checks);
                field_renames.push(field_out.renamed_from);
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

    let (indexes, index_spans): (Vec<_>, Vec<_>) = indexes.into_iter().unzip();
    if let Some(search) = &search {
        let info: Vec<cell_search::parse::ColumnInfo<'_>> = columns
            .iter()
            .map(|c| cell_search::parse::ColumnInfo {
                name: &c.name,
                sql_type: &c.sql_type,
            })
            .collect();
        cell_search::parse::validate(search, &info, &mut errors);
    }

    let parsed = ParsedTable {
        decl: TableDecl {
            rust_name,
            name: table_name,
            columns,
            renamed_from: struct_level.renamed_from.as_ref().map(LitStr::value),
            indexes,
            checks: checks
                .iter()
                .map(|c| c.value().trim().to_string())
                .collect(),
            search: search.map(|s| s.decl),
        },
        struct_ident: item.ident.clone(),
        field_idents,
        field_types,
        field_enums,
        field_renames,
        indexes: index_spans,
        checks,
        renamed_from: struct_level.renamed_from,
    };
    (parsed, errors)
}

/// What a field contributes: its column, and the table-level things written on it.
struct FieldOut {
    column: ColumnDecl,
    checks: Vec<LitStr>,
    renamed_from: Option<LitStr>,
}

/// Field attributes that need the whole field before they apply.
#[derive(Default)]
struct FieldExtras {
    varchar: Option<(u32, Attribute)>,
    encrypted: Option<Attribute>,
    checks: Vec<LitStr>,
    renamed_from: Option<LitStr>,
}

fn parse_field(
    ident: &syn::Ident,
    ty: &syn::Type,
    generic: bool,
    attrs: &mut Vec<Attribute>,
    errors: &mut Errors,
) -> FieldOut {
    let name = ident.to_string().trim_start_matches("r#").to_string();
    let rust = rust_type(ty);
    let class = match &rust {
        Some(r) => types::classify(r),
        None => Classified::Unsupported,
    };
    let (sql_type, nullable, enum_type) = match class {
        Classified::Mapped(m) => (m.sql_type, m.nullable, None),
        Classified::EnumCandidate {
            rust_name,
            array,
            nullable,
        } => {
            // A placeholder until the enum is resolved (see `ColumnDecl::enum_type`).
            let placeholder = if array {
                format!("{rust_name}[]")
            } else {
                rust_name.clone()
            };
            (placeholder, nullable, Some(rust_name))
        }
        Classified::Unsupported => {
            // A generic parameter is already reported on the struct.
            if !generic {
                let written = type_text(ty);
                errors.push(error_spanned(
                    ty,
                    &format!(
                        "field `{name}` has type `{written}`, which has no Postgres column type"
                    ),
                    &format!("supported types: {}", types::supported_types()),
                ));
            }
            (String::new(), false, None)
        }
    };
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
        enum_type,
        encrypted: false,
    };

    let mut extras = FieldExtras::default();
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        match namespaced_name(&attr, NAMESPACE) {
            Some(kind) => {
                if let Err(e) = apply_field_attr(&kind, &attr, &mut column, &mut extras) {
                    errors.push(e);
                }
            }
            None => kept.push(attr),
        }
    }
    *attrs = kept;

    if let Some(attr) = &extras.encrypted {
        encrypt(&mut column, attr, ty, &extras, errors);
    }
    // (An encrypted field's varchar is reported by `encrypt`.)
    if let Some((len, attr)) = extras.varchar.clone().filter(|_| !column.encrypted) {
        match column.sql_type.as_str() {
            "text" => column.sql_type = types::varchar(len),
            "text[]" => column.sql_type = format!("{}[]", types::varchar(len)),
            // The type error is reported already.
            "" => {}
            _ => errors.push(error_spanned(
                &attr,
                &format!(
                    "#[Postgres::varchar] applies to `String` fields, but `{}` is `{}`",
                    column.name,
                    type_text(ty)
                ),
                "remove it, or make the field a `String` (or `Option<String>`, `Vec<String>`)",
            )),
        }
    }
    column.renamed_from = extras.renamed_from.as_ref().map(LitStr::value);
    FieldOut {
        column,
        checks: extras.checks,
        renamed_from: extras.renamed_from,
    }
}

/// `#[Postgres::encrypted]` on `column`: a `String` or `Option<String>`, stored as `bytea`;
/// what it cannot be combined with is reported at the attribute.
///
/// Not `Vec<u8>`: its column is `bytea` in the clear too, so turning encryption on or off
/// would change no column type, and the plan (which sees types) could not refuse it. Until
/// the lock records which columns are encrypted, only a field whose clear type differs
/// can be encrypted.
fn encrypt(
    column: &mut ColumnDecl,
    attr: &Attribute,
    ty: &syn::Type,
    extras: &FieldExtras,
    errors: &mut Errors,
) {
    let name = column.name.clone();
    if column.sql_type != "text" || column.enum_type.is_some() {
        if !column.sql_type.is_empty() {
            errors.push(error_spanned(
                ty,
                &format!(
                    "#[Postgres::encrypted] cannot encrypt field `{name}` of type `{}`",
                    type_text(ty)
                ),
                "an encrypted field is a `String` or an `Option<String>`: store other values as their text (bytes as base64), or leave the field in the clear",
            ));
        }
        return;
    }
    let refuse = |what: &str, why: &str| {
        error_spanned(
            attr,
            &format!("field `{name}` is encrypted and {what}"),
            why,
        )
    };
    if column.primary_key {
        errors.push(refuse(
            "the primary key",
            "every encrypted value is bound to its row's primary key, which must stay readable: encrypt another field",
        ));
    }
    for (what, set) in [
        ("has a default", column.default.is_some()),
        ("is a foreign key", column.foreign_key.is_some()),
        ("has a varchar length", extras.varchar.is_some()),
        ("has a check", !extras.checks.is_empty()),
    ] {
        if set {
            errors.push(refuse(
                what,
                "the database sees only ciphertext, so it cannot compute, compare or constrain the value: remove that attribute, or leave the field in the clear",
            ));
        }
    }
    column.sql_type = "bytea".into();
    column.encrypted = true;
}

/// The enum inside a field type: `Option<Vec<models::Status>>` → `models::Status`.
fn enum_inner(ty: &syn::Type) -> &syn::Type {
    if let syn::Type::Path(p) = ty
        && p.qself.is_none()
        && let Some(last) = p.path.segments.last()
        && (last.ident == "Option" || last.ident == "Vec")
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let [syn::GenericArgument::Type(inner)] = args.args.iter().collect::<Vec<_>>().as_slice()
    {
        return enum_inner(inner);
    }
    if let syn::Type::Group(g) = ty {
        return enum_inner(&g.elem);
    }
    ty
}

/// The one string literal of `#[Postgres::kind("...")]`.
fn string_arg(attr: &Attribute, kind: &str, example: &str) -> syn::Result<LitStr> {
    let lit: LitStr = match &attr.meta {
        Meta::List(list) => syn::parse2(list.tokens.clone()).map_err(|_| {
            error_spanned(
                &list.tokens,
                &format!("#[Postgres::{kind}] takes one string"),
                &format!("write `#[Postgres::{kind}(\"{example}\")]`"),
            )
        })?,
        Meta::NameValue(nv) => syn::parse2(quote::ToTokens::to_token_stream(&nv.value))?,
        Meta::Path(p) => {
            return Err(error_spanned(
                p,
                &format!("#[Postgres::{kind}] needs a value"),
                &format!("write `#[Postgres::{kind}(\"{example}\")]`"),
            ));
        }
    };
    Ok(lit)
}

fn check_arg(attr: &Attribute) -> syn::Result<LitStr> {
    let lit = string_arg(attr, "check", "price >= 0")?;
    if lit.value().trim().is_empty() {
        return Err(error(
            lit.span(),
            "the CHECK expression is empty",
            "write a boolean SQL expression: `#[Postgres::check(\"price >= 0\")]`",
        ));
    }
    Ok(lit)
}

fn renamed_from_arg(attr: &Attribute, what: &str) -> syn::Result<LitStr> {
    let lit = string_arg(attr, "renamed_from", "old_name")?;
    if !ident::is_plain(&lit.value()) {
        return Err(error(
            lit.span(),
            &format!("`{}` is not a valid {what} name", lit.value()),
            "give the previous name as it is in the database: lower-case letters, digits and `_`",
        ));
    }
    Ok(lit)
}

/// What was written on the struct itself beside `#[Postgres::table]`.
#[derive(Default)]
struct StructLevel {
    checks: Vec<LitStr>,
    renamed_from: Option<LitStr>,
}

/// Reads and strips the `Postgres::` attributes on the struct (those after
/// `#[Postgres::table]`; those before it move themselves after it).
fn parse_struct_attrs(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> StructLevel {
    let mut out = StructLevel::default();
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        let Some(kind) = namespaced_name(&attr, NAMESPACE) else {
            kept.push(attr);
            continue;
        };
        let name_span = attr
            .path()
            .segments
            .last()
            .expect("namespaced path")
            .ident
            .span();
        match kind.as_str() {
            "check" => match check_arg(&attr) {
                Ok(lit) => out.checks.push(lit),
                Err(e) => errors.push(e),
            },
            "renamed_from" => match renamed_from_arg(&attr, "table") {
                Ok(lit) if out.renamed_from.is_some() => errors.push(error(
                    lit.span(),
                    "the table has two `#[Postgres::renamed_from]`",
                    "a rename has one previous name: keep the one the live database has",
                )),
                Ok(lit) => out.renamed_from = Some(lit),
                Err(e) => errors.push(e),
            },
            "table" => errors.push(error_spanned(
                &attr,
                "#[Postgres::table] appears twice on this struct",
                "keep one #[Postgres::table(...)]",
            )),
            field if FIELD_ATTRS.contains(&field) => errors.error(
                name_span,
                &format!("#[Postgres::{field}] is a field attribute"),
                "put it on the field it applies to",
            ),
            other => errors.error(
                name_span,
                &format!("unknown attribute `Postgres::{other}` on a table struct"),
                STRUCT_ATTRS_HELP,
            ),
        }
    }
    *attrs = kept;
    out
}

/// One element of `indexes = [...]`: `("a", "b", unique = true, descending = ["b"])`,
/// `("a")` or just `"a"`.
fn parse_index(elem: &syn::Expr) -> syn::Result<(TableIndexDecl, IndexSpans)> {
    let parts: Vec<&syn::Expr> = match elem {
        syn::Expr::Tuple(t) => t.elems.iter().collect(),
        syn::Expr::Paren(p) => vec![&*p.expr],
        syn::Expr::Lit(_) => vec![elem],
        other => {
            return Err(error_spanned(
                other,
                "an index is a tuple of column names and options",
                INDEX_HELP,
            ));
        }
    };
    let mut decl = TableIndexDecl {
        columns: Vec::new(),
        unique: false,
        descending: Vec::new(),
    };
    let mut spans = IndexSpans {
        tokens: quote::ToTokens::to_token_stream(elem),
        columns: Vec::new(),
        descending: Vec::new(),
    };
    let mut descending_all = false;
    let mut errors = Errors::default();
    for part in parts {
        match part {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(lit),
                ..
            }) => {
                decl.columns.push(lit.value());
                spans.columns.push(lit.clone());
            }
            syn::Expr::Path(p) if p.path.is_ident("unique") => decl.unique = true,
            syn::Expr::Path(p) if p.path.is_ident("descending") => descending_all = true,
            syn::Expr::Assign(a) => {
                let key = match &*a.left {
                    syn::Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                    _ => None,
                };
                match (key.as_deref(), &*a.right) {
                    (
                        Some("unique"),
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Bool(b),
                            ..
                        }),
                    ) => decl.unique = b.value,
                    (
                        Some("descending"),
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Bool(b),
                            ..
                        }),
                    ) => descending_all = b.value,
                    (
                        Some("descending"),
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }),
                    ) => spans.descending.push(s.clone()),
                    (Some("descending"), syn::Expr::Array(arr)) => {
                        for e in &arr.elems {
                            match e {
                                syn::Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Str(s),
                                    ..
                                }) => spans.descending.push(s.clone()),
                                other => errors.push(error_spanned(
                                    other,
                                    "`descending` lists column names",
                                    "write `descending = [\"created_at\"]` or `descending = true`",
                                )),
                            }
                        }
                    }
                    (Some("unique"), other) => errors.push(error_spanned(
                        other,
                        "`unique` is `true` or `false`",
                        "write `unique = true`",
                    )),
                    (Some("descending"), other) => errors.push(error_spanned(
                        other,
                        "`descending` is `true`, a column name, or a list of column names",
                        "write `descending = true` or `descending = [\"created_at\"]`",
                    )),
                    _ => errors.push(error_spanned(
                        &a.left,
                        &format!(
                            "unknown index option `{}`",
                            quote::ToTokens::to_token_stream(&a.left)
                        ),
                        "index options: `unique = true`, `descending = true` or `descending = [\"column\"]`",
                    )),
                }
            }
            other => errors.push(error_spanned(
                other,
                "expected a column name (a string) or an option (`unique = true`, `descending = true`)",
                INDEX_HELP,
            )),
        }
    }
    if decl.columns.is_empty() {
        errors.push(error_spanned(
            elem,
            "this index names no column",
            "write the columns as strings: `(\"org_id\", \"created_at\")`",
        ));
    }
    decl.descending = if descending_all {
        decl.columns.clone()
    } else {
        spans.descending.iter().map(LitStr::value).collect()
    };
    errors.finish().map(|()| (decl, spans))
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

fn apply_field_attr(
    kind: &str,
    attr: &Attribute,
    column: &mut ColumnDecl,
    extras: &mut FieldExtras,
) -> syn::Result<()> {
    match kind {
        "check" => extras.checks.push(check_arg(attr)?),
        "renamed_from" => {
            let lit = renamed_from_arg(attr, "column")?;
            if extras.renamed_from.is_some() {
                return Err(error(
                    lit.span(),
                    &format!(
                        "field `{}` has two `#[Postgres::renamed_from]`",
                        column.name
                    ),
                    "a rename has one previous name: keep the one the live database has",
                ));
            }
            extras.renamed_from = Some(lit);
        }
        "varchar" => {
            let example = "write `#[Postgres::varchar(255)]`";
            let len: syn::LitInt = match &attr.meta {
                Meta::List(list) => syn::parse2(list.tokens.clone()).map_err(|_| {
                    error_spanned(
                        &list.tokens,
                        "#[Postgres::varchar] takes the maximum length",
                        example,
                    )
                })?,
                other => {
                    return Err(error_spanned(
                        other,
                        "#[Postgres::varchar] needs the maximum length",
                        example,
                    ));
                }
            };
            let n: u32 = len.base10_parse().unwrap_or(0);
            if n == 0 || n > types::MAX_VARCHAR {
                return Err(error(
                    len.span(),
                    &format!("`{len}` is not a varchar length"),
                    &format!("Postgres accepts 1 to {}", types::MAX_VARCHAR),
                ));
            }
            extras.varchar = Some((n, attr.clone()));
        }
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
                    Err(unknown_key(
                        &meta.path,
                        "Postgres::foreign_key",
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
        "encrypted" => {
            if let Meta::List(_) = attr.meta {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("algorithm") {
                        let lit: LitStr = meta.value()?.parse()?;
                        if lit.value() == "aes-256-gcm" {
                            Ok(())
                        } else {
                            Err(error(
                                lit.span(),
                                &format!("`{}` is not an algorithm cargo-cell encrypts with", lit.value()),
                                "write `algorithm = \"aes-256-gcm\"` (the default), or leave it out",
                            ))
                        }
                    } else {
                        Err(unknown_key(
                            &meta.path,
                            "Postgres::encrypted",
                            "the one key is `algorithm = \"aes-256-gcm\"`",
                        ))
                    }
                })?;
            }
            extras.encrypted = Some(attr.clone());
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
        [pk] => {
            let key = &decl.columns[*pk];
            let encrypted = decl.columns.iter().find(|c| c.encrypted);
            if let Some(field) = encrypted
                && !crate::encryption::ROW_KEY_TYPES.contains(&key.sql_type.as_str())
            {
                errors.push(error_spanned(
                    &parsed.field_types[*pk],
                    &format!(
                        "field `{}` is encrypted, but its values cannot be bound to the primary key `{}` of type `{}`",
                        field.name, key.name, key.rust_type
                    ),
                    "a table with an encrypted field has a primary key of type i16, i32, i64, String or Uuid (its text is the same in Rust and in Postgres, which key rotation needs)",
                ));
            }
        }
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
    validate_indexes(parsed, &mut errors);
    validate_blind_indexes(parsed, &mut errors);
    validate_renames(parsed, &mut errors);
    validate_checks(parsed, &mut errors);
    errors.finish()
}

/// An encrypted field's `index`/`unique` is a blind index in a column of its own
/// (`<field>_bidx`): that name is taken, and a table-level index cannot mix it with others.
fn validate_blind_indexes(parsed: &ParsedTable, errors: &mut Errors) {
    let decl = &parsed.decl;
    for c in decl
        .columns
        .iter()
        .filter(|c| c.encrypted && c.index.is_some())
    {
        let sidecar = crate::declare::blind_index_column(&c.name);
        if let Some(i) = decl.columns.iter().position(|d| d.name == sidecar) {
            errors.error(
                parsed.field_idents[i].span(),
                &format!("field `{sidecar}` has the name of the blind index of encrypted field `{}`", c.name),
                "the blind index of an indexed encrypted field is a column named `<field>_bidx`: rename this field",
            );
        }
    }
    for ix in &decl.indexes {
        if let Some(c) = ix
            .columns
            .iter()
            .filter_map(|name| decl.column(name))
            .find(|c| c.encrypted)
        {
            errors.error(
                parsed.struct_ident.span(),
                &format!("the index on ({}) names encrypted field `{}`", ix.columns.join(", "), c.name),
                "the database sees only ciphertext: an encrypted field is found by equality alone, through its own `#[Postgres::index]` or `#[Postgres::unique]` (a blind index); take it out of this index",
            );
        }
    }
}

fn field_list(decl: &TableDecl) -> String {
    decl.columns
        .iter()
        .map(|c| format!("`{}`", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn validate_indexes(parsed: &ParsedTable, errors: &mut Errors) {
    let decl = &parsed.decl;
    // Column lists already indexed, with what indexed them, for duplicates.
    let mut seen: Vec<(Vec<String>, String)> = decl
        .columns
        .iter()
        .filter(|c| c.index.is_some())
        .map(|c| {
            (
                vec![c.name.clone()],
                format!("`#[Postgres::index]` on field `{}`", c.name),
            )
        })
        .collect();
    let pk = decl.primary_key().map(|c| c.name.clone());
    for (ix, spans) in decl.indexes.iter().zip(&parsed.indexes) {
        let mut ok = true;
        for (n, (col, lit)) in ix.columns.iter().zip(&spans.columns).enumerate() {
            if decl.column(col).is_none() {
                ok = false;
                errors.error(
                    lit.span(),
                    &format!(
                        "index column `{col}` is not a field of `{}`",
                        decl.rust_name
                    ),
                    &format!("the fields are {}", field_list(decl)),
                );
            } else if ix.columns[..n].contains(col) {
                ok = false;
                errors.error(
                    lit.span(),
                    &format!("column `{col}` appears twice in this index"),
                    "name each column once",
                );
            }
        }
        for lit in &spans.descending {
            if !ix.columns.contains(&lit.value()) {
                ok = false;
                errors.error(
                    lit.span(),
                    &format!(
                        "`{}` in `descending` is not a column of this index",
                        lit.value()
                    ),
                    &format!(
                        "this index has {}; `descending = true` makes them all descending",
                        ix.columns
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if !ok {
            continue;
        }
        if pk.as_ref().is_some_and(|pk| ix.columns == [pk.clone()]) {
            errors.push(error_spanned(
                &spans.tokens,
                "the primary key is already indexed and unique",
                "remove this index",
            ));
            continue;
        }
        let written = quote::ToTokens::to_token_stream(&spans.tokens).to_string();
        match seen.iter().find(|(cols, _)| *cols == ix.columns) {
            Some((_, first)) => errors.push(error_spanned(
                &spans.tokens,
                &format!(
                    "this index is a duplicate: ({}) is already indexed by {first}",
                    ix.columns.join(", ")
                ),
                "keep one index per list of columns (add `unique = true` to the one you keep if it should be unique)",
            )),
            None => seen.push((ix.columns.clone(), format!("`{written}`"))),
        }
    }
}

fn validate_renames(parsed: &ParsedTable, errors: &mut Errors) {
    let decl = &parsed.decl;
    if let Some(lit) = &parsed.renamed_from
        && lit.value() == decl.name
    {
        errors.error(
            lit.span(),
            &format!("table `{}` is renamed from itself", decl.name),
            "`renamed_from` names the table's previous name; remove it once the rename is applied",
        );
    }
    for (i, lit) in parsed.field_renames.iter().enumerate() {
        let Some(lit) = lit else { continue };
        let old = lit.value();
        let col = &decl.columns[i];
        if old == col.name {
            errors.error(
                lit.span(),
                &format!("column `{}` is renamed from itself", col.name),
                "`renamed_from` names the column's previous name; remove it once the rename is applied",
            );
        } else if decl.column(&old).is_some() {
            errors.error(
                lit.span(),
                &format!(
                    "`{old}` is still a field of `{}`, so `{}` cannot be renamed from it",
                    decl.rust_name, col.name
                ),
                &format!("rename or remove the field `{old}` first"),
            );
        } else if let Some(first) = parsed.field_renames[..i]
            .iter()
            .position(|l| l.as_ref().is_some_and(|l| l.value() == old))
        {
            errors.error(
                lit.span(),
                &format!(
                    "fields `{}` and `{}` are both renamed from `{old}`",
                    decl.columns[first].name, col.name
                ),
                "one column can become only one field",
            );
        }
    }
}

fn validate_checks(parsed: &ParsedTable, errors: &mut Errors) {
    for (i, lit) in parsed.checks.iter().enumerate() {
        let expr = lit.value();
        let expr = expr.trim();
        if parsed.checks[..i].iter().any(|l| l.value().trim() == expr) {
            errors.error(
                lit.span(),
                &format!(
                    "the CHECK `{expr}` is declared twice on table `{}`",
                    parsed.decl.name
                ),
                "remove one of them",
            );
        }
    }
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

    #[test]
    fn table_level_indexes_checks_and_renames() {
        let (parsed, item) = parse(
            quote!(
                name = "orders",
                indexes = [
                    ("org_id", "email", unique = true),
                    ("created_at", descending = true),
                    ("org_id", "created_at", descending = ["created_at"]),
                    "status",
                    ("email", unique),
                ]
            ),
            quote! {
                #[Postgres::renamed_from("purchases")]
                #[Postgres::check("price >= 0")]
                #[derive(Debug)]
                struct Order {
                    #[Postgres::primary_key] id: Uuid,
                    org_id: Uuid,
                    #[Postgres::varchar(320)] email: String,
                    #[Postgres::check(" quantity > 0 ")]
                    #[Postgres::renamed_from("qty")]
                    quantity: i32,
                    price: Decimal,
                    created_at: DateTime<Utc>,
                    status: Option<OrderStatus>,
                    tags: Vec<models::Tag>,
                }
            },
        )
        .unwrap();
        let d = &parsed.decl;
        let ix = |cols: &[&str], unique: bool, desc: &[&str]| TableIndexDecl {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            unique,
            descending: desc.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(
            d.indexes,
            vec![
                ix(&["org_id", "email"], true, &[]),
                ix(&["created_at"], false, &["created_at"]),
                ix(&["org_id", "created_at"], false, &["created_at"]),
                ix(&["status"], false, &[]),
                ix(&["email"], true, &[]),
            ]
        );
        assert_eq!(d.checks, vec!["price >= 0", "quantity > 0"]);
        assert_eq!(d.renamed_from.as_deref(), Some("purchases"));
        assert_eq!(d.columns[3].renamed_from.as_deref(), Some("qty"));
        assert_eq!(d.columns[2].sql_type, "character varying(320)");
        assert_eq!(d.columns[4].sql_type, "numeric");
        // Enum candidates: the Rust name as a placeholder type until resolved.
        let status = &d.columns[6];
        assert_eq!(status.enum_type.as_deref(), Some("OrderStatus"));
        assert_eq!(
            (status.sql_type.as_str(), status.nullable),
            ("OrderStatus", true)
        );
        assert_eq!(d.columns[7].enum_type.as_deref(), Some("Tag"));
        assert_eq!(d.columns[7].sql_type, "Tag[]");
        let inner = |i: usize| parsed.field_enums[i].as_ref().map(type_text);
        assert_eq!(inner(6).as_deref(), Some("OrderStatus"));
        assert_eq!(inner(7).as_deref(), Some("models::Tag"));
        assert_eq!(inner(0), None);
        // Every Postgres attribute is stripped; others stay.
        assert_eq!(item.attrs.len(), 1, "only the derive stays");
        assert!(item.fields.iter().all(|f| f.attrs.is_empty()));
    }

    fn first_error(args: TokenStream, item: TokenStream) -> String {
        let err = parse(args, item).unwrap_err();
        err.lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn table_level_mistakes() {
        let item = quote! {
            struct Order {
                #[Postgres::primary_key] id: i64,
                #[Postgres::unique] email: String,
                org_id: i64,
            }
        };
        let cases = [
            (
                quote!(indexes = [("emial")]),
                "index column `emial` is not a field of `Order`",
            ),
            (
                quote!(indexes = [("org_id", descending = ["email"])]),
                "`email` in `descending` is not a column of this index",
            ),
            (
                quote!(indexes = [("org_id", "email"), ("org_id", "email", unique)]),
                "this index is a duplicate: (org_id, email) is already indexed by `(\"org_id\" , \"email\")`",
            ),
            (
                quote!(indexes = [("email")]),
                "this index is a duplicate: (email) is already indexed by `#[Postgres::index]` on field `email`",
            ),
            (
                quote!(indexes = [("id")]),
                "the primary key is already indexed and unique",
            ),
            (
                quote!(indexes = [("org_id", "org_id")]),
                "column `org_id` appears twice in this index",
            ),
            (
                quote!(indexes = [(unique = true)]),
                "this index names no column",
            ),
            (
                quote!(indexes = [("org_id", sorted = true)]),
                "unknown index option `sorted`",
            ),
            (
                quote!(indexes = [("org_id", descending = 1)]),
                "`descending` is `true`, a column name, or a list of column names",
            ),
            (
                quote!(indexes = [org_id]),
                "an index is a tuple of column names and options",
            ),
            (
                quote!(indexes = "org_id"),
                "`indexes` takes a list: `indexes = [(\"email\", unique = true)]`",
            ),
        ];
        for (args, expected) in cases {
            let got = first_error(args.clone(), item.clone());
            assert_eq!(got, expected, "for {args}");
        }
    }

    #[test]
    fn rename_and_check_mistakes() {
        let cases = [
            (
                quote!(
                    #[Postgres::renamed_from("orders")]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                    }
                ),
                "table `orders` is renamed from itself",
            ),
            (
                quote!(
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::renamed_from("a")]
                        a: i64,
                    }
                ),
                "column `a` is renamed from itself",
            ),
            (
                quote!(
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::renamed_from("b")]
                        a: i64,
                        b: i64,
                    }
                ),
                "`b` is still a field of `Order`, so `a` cannot be renamed from it",
            ),
            (
                quote!(
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::renamed_from("c")]
                        a: i64,
                        #[Postgres::renamed_from("c")]
                        b: i64,
                    }
                ),
                "fields `a` and `b` are both renamed from `c`",
            ),
            (
                quote!(
                    #[Postgres::check("a > 0")]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::check("a > 0 ")]
                        a: i64,
                    }
                ),
                "the CHECK `a > 0` is declared twice on table `orders`",
            ),
            (
                quote!(
                    #[Postgres::check("")]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                    }
                ),
                "the CHECK expression is empty",
            ),
            (
                quote!(
                    #[Postgres::renamed_from("Old")]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                    }
                ),
                "`Old` is not a valid table name",
            ),
            (
                quote!(
                    #[Postgres::primary_key]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                    }
                ),
                "#[Postgres::primary_key] is a field attribute",
            ),
            (
                quote!(
                    #[Postgres::table]
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                    }
                ),
                "#[Postgres::table] appears twice on this struct",
            ),
            (
                quote!(
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::varchar(8)]
                        n: i64,
                    }
                ),
                "#[Postgres::varchar] applies to `String` fields, but `n` is `i64`",
            ),
            (
                quote!(
                    struct Order {
                        #[Postgres::primary_key]
                        id: i64,
                        #[Postgres::varchar(0)]
                        n: String,
                    }
                ),
                "`0` is not a varchar length",
            ),
        ];
        for (item, expected) in cases {
            assert_eq!(first_error(quote!(), item.clone()), expected, "for {item}");
        }
    }

    #[test]
    fn non_enum_types_stay_immediate_errors() {
        for ty in [
            quote!(u32),
            quote!(PathBuf),
            quote!(Box<i64>),
            quote!((i64, i64)),
            quote!(&'static str),
        ] {
            let err = first_error(
                quote!(),
                quote!(struct T { #[Postgres::primary_key] id: i64, x: #ty }),
            );
            assert!(
                err.contains("which has no Postgres column type"),
                "{ty}: {err}"
            );
        }
    }
}

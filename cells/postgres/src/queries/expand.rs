//! `query!("SQL", args..)` and `query_as!(Type, "SQL", args..)`: parse, then expand against
//! the statement's entry in `.cell/postgres.queries.lock.json`, with no database.
//!
//! The expansion is a `cell_runtime::__private::Query` holding the text, the arguments by
//! reference (bound as parameters, never interpolated) and a decoder from a row to the result
//! type: an anonymous `Record` struct for `query!`, the caller's struct for `query_as!`, each
//! field typed from what Postgres said (`Option<T>` where the column may be NULL).

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Token};

use super::{
    ColumnName, Described, LockedQuery, PENDING_MARKER, PgType, QUERIES_LOCK_FILE, QueriesLock,
    rust_type_of, statement_hash,
};

/// A `query!` or `query_as!` invocation.
pub struct QueryInput {
    /// `query_as!`'s result type.
    pub target: Option<syn::Path>,
    /// `#[Postgres::query]` on a function returning one column's values: their type.
    pub scalar: Option<syn::Type>,
    /// The caller states the row type (`query_as!`, a `#[Postgres::query]` function): the
    /// record step can expand a query not described yet without knowing its columns.
    pub typed: bool,
    pub sql: LitStr,
    pub args: Vec<Expr>,
}

impl QueryInput {
    /// `"SQL", args..` (with `Type,` first when `with_type`).
    pub fn parse(tokens: TokenStream, with_type: bool) -> syn::Result<QueryInput> {
        struct Raw(QueryInput);
        impl Parse for Raw {
            fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
                let target = if input.peek(LitStr) {
                    None
                } else {
                    let fork = input.fork();
                    match (fork.parse::<syn::Path>(), fork.parse::<Token![,]>()) {
                        (Ok(_), Ok(_)) => {
                            let path: syn::Path = input.parse()?;
                            input.parse::<Token![,]>()?;
                            Some(path)
                        }
                        _ => None,
                    }
                };
                let sql: LitStr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected the statement as a string literal\n\nhelp: `query!(\"SELECT id FROM users WHERE email = $1\", email)`",
                    )
                })?;
                let mut args = Vec::new();
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                    let rest: Punctuated<Expr, Token![,]> = Punctuated::parse_terminated(input)?;
                    args = rest.into_iter().collect();
                }
                Ok(Raw(QueryInput {
                    target,
                    scalar: None,
                    typed: false,
                    sql,
                    args,
                }))
            }
        }
        let Raw(input) = syn::parse2(tokens)?;
        match (&input.target, with_type) {
            (Some(t), false) => Err(syn::Error::new_spanned(
                t,
                "query! takes the statement first\n\nhelp: for rows of your own struct, write `query_as!(Type, \"SELECT ...\", args..)`",
            )),
            (None, true) => Err(syn::Error::new(
                input.sql.span(),
                "query_as! takes the result type first\n\nhelp: `query_as!(OrgCount, \"SELECT ...\", args..)`",
            )),
            _ => Ok(QueryInput {
                typed: input.target.is_some(),
                ..input
            }),
        }
    }

    pub fn hash(&self) -> String {
        statement_hash(&self.sql.value())
    }

    pub fn form(&self) -> &'static str {
        if self.target.is_some() {
            "query_as!"
        } else {
            "query!"
        }
    }
}

/// What the macro knows of the lock.
pub enum QueriesView<'a> {
    /// There is no `.cell/postgres.queries.lock.json`.
    Absent,
    Present {
        path: &'a Path,
        lock: &'a QueriesLock,
    },
}

/// The expansion. `recording`: this is `cargo cell build`'s record step, where a query not
/// yet described is an error the record step knows ([`PENDING_MARKER`]).
pub fn expand(input: &QueryInput, view: QueriesView<'_>, recording: bool) -> TokenStream {
    match expand_checked(input, view, recording) {
        Ok(t) | Err(t) => t,
    }
}

/// As [`expand`]; `Err` holds the compile errors (with the lock tracked, so fixing the lock
/// recompiles the crate).
pub fn expand_checked(
    input: &QueryInput,
    view: QueriesView<'_>,
    recording: bool,
) -> Result<TokenStream, TokenStream> {
    let span = input.sql.span();
    // The record step, for a query whose row type the caller states: a stub that compiles,
    // so crates depending on this one record too; the statement is described after it.
    let stub = || {
        let ty = match (&input.target, &input.scalar) {
            (Some(path), _) => quote!(#path),
            (None, Some(ty)) => quote!(#ty),
            (None, None) => quote!(()),
        };
        let value = query_value(
            input,
            &input.sql.value(),
            &ty,
            quote!(let _ = row; ::core::unreachable!("the record step only checks the code")),
        );
        quote!({ #value })
    };
    let (path, lock) = match view {
        QueriesView::Absent if recording && input.typed => return Ok(stub()),
        QueriesView::Absent if recording => return Err(pending(span)),
        QueriesView::Absent => {
            return Err(error(
                span,
                &format!(
                    "there is no .cell/{QUERIES_LOCK_FILE} yet, so this query cannot be checked"
                ),
                "run `cargo cell build`: it prepares every query on the dev Cell and writes the lock (commit it with .cell/)",
            ));
        }
        QueriesView::Present { path, lock } => (path, lock),
    };
    let path = path.display().to_string();
    // cargo rebuilds this crate when the lock's bytes change.
    let tracking = quote!(
        const _: &[u8] = ::core::include_bytes!(#path);
    );
    let locked = lock.queries.get(&input.hash());
    let described = locked.is_some_and(|l| matches!(l.described, Described::Ok { .. }));
    if recording && input.typed && !described {
        return Ok(stub());
    }
    let Some(locked) = locked else {
        if recording {
            return Err(pending(span));
        }
        let err = error(
            span,
            &format!(
                "this query is not in .cell/{QUERIES_LOCK_FILE}: it is new, or its text changed since `cargo cell build` described it"
            ),
            "run `cargo cell build`: it prepares the query on the dev Cell and locks its types (no database is needed after that)",
        );
        return Err(quote!({ #tracking #err }));
    };
    match expand_locked(input, locked) {
        Ok(body) => Ok(quote!({ #tracking #body })),
        Err(err) => Err(quote!({ #tracking #err })),
    }
}

fn pending(span: Span) -> TokenStream {
    error(
        span,
        &format!("{PENDING_MARKER}; `cargo cell build` describes it and compiles again"),
        "",
    )
}

fn error(span: Span, message: &str, help: &str) -> TokenStream {
    cell_core::macros::error(span, message, help).to_compile_error()
}

fn expand_locked(input: &QueryInput, locked: &LockedQuery) -> Result<TokenStream, TokenStream> {
    let span = input.sql.span();
    let rt = quote!(::cell_runtime);
    let (params, columns) = match &locked.described {
        Described::Rejected {
            message,
            position,
            hint,
        } => {
            return Err(error(
                span,
                &rejected_message(&locked.sql, message, *position),
                hint.as_deref().unwrap_or(
                    "fix the statement; `cargo cell build` prepares it again on the dev Cell",
                ),
            ));
        }
        Described::Ok {
            params, columns, ..
        } => (params, columns),
    };
    if params.len() != input.args.len() {
        return Err(error(
            span,
            &format!(
                "this query takes {} parameter{}, but {} argument{} given",
                params.len(),
                if params.len() == 1 { "" } else { "s" },
                input.args.len(),
                if input.args.len() == 1 {
                    " is"
                } else {
                    "s are"
                },
            ),
            &match params.len() {
                0 => {
                    "remove the arguments, or use `$1` in the statement where each goes".to_string()
                }
                n => format!(
                    "pass one argument for each of {} (Postgres types: {})",
                    (1..=n)
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        ));
    }

    let sql = &locked.sql;
    if let Some(ty) = &input.scalar {
        return match columns.as_slice() {
            [c] => {
                let name = ColumnName::parse(&c.name);
                if c.nullable && name.nullable != Some(false) && !is_option(ty) {
                    Err(error(
                        span,
                        &format!(
                            "column `{}` of this query may be NULL, but the function returns `{}` for it",
                            c.name,
                            quote!(#ty)
                        ),
                        &format!(
                            "return `Option<{}>` for it, or insist in the statement: `... AS \"{}!\"`",
                            quote!(#ty),
                            name.field
                        ),
                    ))
                } else {
                    let ty = quote!(#ty);
                    Ok(query_value(
                        input,
                        sql,
                        &ty,
                        quote!(#rt::__private::column::<#ty>(row, 0)),
                    ))
                }
            }
            _ => Err(error(
                span,
                &format!(
                    "this query returns {} columns, but the function returns one value per row",
                    columns.len()
                ),
                "return a struct with one field per column (named as the columns), or select one column",
            )),
        };
    }

    let mut fields = Vec::new();
    let mut errors = TokenStream::new();
    for (i, c) in columns.iter().enumerate() {
        let name = ColumnName::parse(&c.name);
        let Some(ident) = field_ident(&name.field) else {
            errors.extend(error(
                span,
                &format!(
                    "column {} of this query is named `{}`, which is not a Rust field name",
                    i + 1,
                    c.name
                ),
                &format!(
                    "name it in the statement: `... AS \"{}\"`",
                    suggest_name(&name.field)
                ),
            ));
            continue;
        };
        let ty = match &name.rust_type {
            Some(t) => match syn::parse_str::<syn::Type>(t) {
                Ok(t) => quote!(#t),
                Err(_) => {
                    errors.extend(error(
                        span,
                        &format!("`{t}` in the name of column `{}` is not a Rust type", name.field),
                        "write `AS \"name: Type\"` with a type in scope, such as `AS \"status: OrderStatus\"`",
                    ));
                    continue;
                }
            },
            None => match rust_tokens(&c.ty, &rt) {
                Some(t) => t,
                None => {
                    errors.extend(error(
                        span,
                        &format!(
                            "column `{}` has Postgres type `{}`{}, which has no default Rust type",
                            name.field,
                            c.ty.name,
                            if c.ty.is_enum { " (an enum)" } else { "" }
                        ),
                        &format!("name the Rust type in the statement: `{0} AS \"{0}: YourType\"` (a `#[derive(Postgres::Enum)]` enum for an enum type)", name.field),
                    ));
                    continue;
                }
            },
        };
        let nullable = name.nullable.unwrap_or(c.nullable);
        let ty = if nullable {
            quote!(::core::option::Option<#ty>)
        } else {
            ty
        };
        fields.push((ident, ty, i));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let reads = fields
        .iter()
        .map(|(ident, ty, i)| quote!(#ident: #rt::__private::column::<#ty>(row, #i)?));
    let (record, ty) = match &input.target {
        Some(path) => (quote!(), quote!(#path)),
        None => {
            let decls = fields.iter().map(|(ident, ty, _)| quote!(pub #ident: #ty));
            (
                quote! {
                    /// A row of this query, typed as Postgres described it.
                    #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq)]
                    struct Record { #(#decls,)* }
                },
                quote!(Record),
            )
        }
    };
    let value = query_value(
        input,
        sql,
        &ty,
        quote!(::core::result::Result::Ok(#ty { #(#reads,)* })),
    );
    Ok(quote!(#record #value))
}

/// `Query::<ty>::new(sql, args, decode)`, with `decode` a function of `row` whose body is
/// `decode_body`: what every form of the expansion builds. The arguments are bound by
/// reference, each spanned at its expression so a type error points there.
fn query_value(
    input: &QueryInput,
    sql: &str,
    ty: &TokenStream,
    decode_body: TokenStream,
) -> TokenStream {
    let rt = quote!(::cell_runtime);
    let args = input.args.iter().map(|a| {
        quote_spanned!(syn::spanned::Spanned::span(a)=> &(#a) as &(dyn #rt::__private::ToSql + ::core::marker::Sync))
    });
    quote! {
        fn decode(row: &#rt::__private::Row) -> ::core::result::Result<#ty, #rt::Error> {
            #decode_body
        }
        #rt::__private::Query::<#ty>::new(#sql, ::std::vec![#(#args),*], decode)
    }
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// `#[Postgres::query("SQL")]` on a function signature (no body): the function runs the
/// statement. Its first parameter is the executor; the others are `$1`, `$2`, ... in order.
/// What it returns says how: `Result<Vec<T>, E>` every row, `Result<Option<T>, E>` at most
/// one, `Result<u64, E>` the rows touched, `Result<T, E>` exactly one; `T` a struct with
/// one field per column, or one column's type.
pub struct QueryFn {
    pub sql: LitStr,
    pub item: syn::ForeignItemFn,
}

/// How a `#[Postgres::query]` function runs its statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    All,
    Optional,
    One,
    Execute,
}

const FN_HELP: &str = "write `#[Postgres::query(\"SELECT ... WHERE id = $1\")] async fn name(db: &impl Executor, id: i64) -> Result<Vec<Row>, Error>;`";

impl QueryFn {
    pub fn parse(args: TokenStream, item: TokenStream) -> syn::Result<QueryFn> {
        let sql: LitStr = syn::parse2(args).map_err(|e| {
            syn::Error::new(e.span(), format!("#[Postgres::query] takes the statement as one string literal\n\nhelp: {FN_HELP}"))
        })?;
        let item: syn::ForeignItemFn = syn::parse2(item).map_err(|e| {
            syn::Error::new(e.span(), format!("#[Postgres::query] goes on a function signature without a body\n\nhelp: {FN_HELP}"))
        })?;
        if item.sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(
                item.sig.fn_token,
                format!("a #[Postgres::query] function must be async\n\nhelp: {FN_HELP}"),
            ));
        }
        Ok(QueryFn { sql, item })
    }

    /// The statement's input (the arguments are the parameters after the executor), how
    /// to fetch, and the executor's name.
    pub fn input(&self) -> syn::Result<(QueryInput, Fetch, syn::Ident)> {
        let sig = &self.item.sig;
        let mut names = Vec::new();
        for arg in &sig.inputs {
            match arg {
                syn::FnArg::Typed(t) => match t.pat.as_ref() {
                    syn::Pat::Ident(p) => names.push(p.ident.clone()),
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "each parameter of a #[Postgres::query] function needs a plain name (it is bound as `$n`)",
                        ));
                    }
                },
                syn::FnArg::Receiver(r) => {
                    return Err(syn::Error::new_spanned(
                        r,
                        format!(
                            "a #[Postgres::query] function takes the executor first, not `self`\n\nhelp: {FN_HELP}"
                        ),
                    ));
                }
            }
        }
        let Some((db, params)) = names.split_first() else {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                format!(
                    "a #[Postgres::query] function takes the executor (the pool or a transaction) as its first parameter\n\nhelp: {FN_HELP}"
                ),
            ));
        };
        let bad_return = || {
            syn::Error::new_spanned(
                &sig.output,
                format!(
                    "a #[Postgres::query] function returns `Result<Vec<T>, E>`, `Result<Option<T>, E>`, `Result<T, E>` or `Result<u64, E>`\n\nhelp: {FN_HELP}"
                ),
            )
        };
        let syn::ReturnType::Type(_, ret) = &sig.output else {
            return Err(bad_return());
        };
        let ok = generic_arg(ret, "Result").ok_or_else(bad_return)?;
        let (fetch, row) = if let Some(t) = generic_arg(ok, "Vec") {
            (Fetch::All, Some(t))
        } else if let Some(t) = generic_arg(ok, "Option") {
            (Fetch::Optional, Some(t))
        } else if matches!(ok, syn::Type::Path(p) if p.path.is_ident("u64")) {
            (Fetch::Execute, None)
        } else {
            (Fetch::One, Some(ok))
        };
        let (target, scalar) = match row {
            None => (None, None),
            Some(t) if is_scalar(t) => (None, Some(t.clone())),
            Some(syn::Type::Path(p)) if p.qself.is_none() => (Some(p.path.clone()), None),
            Some(other) => {
                return Err(syn::Error::new_spanned(
                    other,
                    "the rows of a #[Postgres::query] function are a struct (one field per column) or one column's type",
                ));
            }
        };
        let args = params.iter().map(|n| syn::parse_quote!(#n)).collect();
        Ok((
            QueryInput {
                target,
                scalar,
                typed: true,
                sql: self.sql.clone(),
                args,
            },
            fetch,
            db.clone(),
        ))
    }

    pub fn form(&self) -> String {
        format!("#[Postgres::query] fn {}", self.item.sig.ident)
    }
}

/// `T` of `Name<T, ..>` when `ty`'s last segment is `name`.
fn generic_arg<'t>(ty: &'t syn::Type, name: &str) -> Option<&'t syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// A type decoded from one column (not a struct of columns).
fn is_scalar(ty: &syn::Type) -> bool {
    const SCALARS: &[&str] = &[
        "bool",
        "i8",
        "i16",
        "i32",
        "i64",
        "u32",
        "f32",
        "f64",
        "String",
        "Uuid",
        "DateTime",
        "NaiveDate",
        "NaiveDateTime",
        "NaiveTime",
        "Decimal",
        "Value",
        "Vec",
        "Option",
    ];
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| SCALARS.contains(&s.ident.to_string().as_str())))
}

/// The function, with a body that runs the statement.
pub fn expand_fn(f: &QueryFn, view: QueriesView<'_>, recording: bool) -> TokenStream {
    let item = &f.item;
    let (attrs, vis, sig) = (&item.attrs, &item.vis, &item.sig);
    let (mut input, mut fetch, db) = match f.input() {
        Ok(x) => x,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#(#attrs)* #vis #sig { #err ::core::unreachable!() });
        }
    };
    // `Result<Option<T>, E>` of one column that may be NULL (`max(x)`): the one row's value,
    // NULL as `None`; it reads as the function is written.
    if let (Fetch::Optional, Some(ty), QueriesView::Present { lock, .. }) =
        (fetch, &input.scalar, &view)
        && let Some(LockedQuery {
            described: Described::Ok { columns, .. },
            ..
        }) = lock.queries.get(&input.hash())
        && let [c] = columns.as_slice()
        && c.nullable
        && ColumnName::parse(&c.name).nullable != Some(false)
    {
        input.scalar = Some(syn::parse_quote!(::core::option::Option<#ty>));
        fetch = Fetch::One;
    }
    let query = match expand_checked(&input, view, recording) {
        Ok(q) => q,
        // The signature stands as written, so its callers see no second error.
        Err(err) => return quote!(#(#attrs)* #vis #sig { #err ::core::unreachable!() }),
    };
    let run = match fetch {
        Fetch::All => quote!(fetch_all),
        Fetch::Optional => quote!(fetch_optional),
        Fetch::One => quote!(fetch_one),
        Fetch::Execute => quote!(execute),
    };
    quote! {
        #(#attrs)* #vis #sig {
            let query = #query;
            ::core::result::Result::Ok(query.#run(#db).await?)
        }
    }
}

/// Postgres's message with the place it points at: the line of the statement and a caret.
pub fn rejected_message(sql: &str, message: &str, position: Option<u32>) -> String {
    let mut out = format!("Postgres refuses this query: {message}");
    let Some(p) = position
        .and_then(|p| usize::try_from(p).ok())
        .filter(|p| *p > 0)
    else {
        return out;
    };
    // The position counts characters from 1.
    let before: String = sql.chars().take(p - 1).collect();
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count();
    let line = sql.lines().nth(line_no - 1).unwrap_or_default();
    out.push_str(&format!(
        "\n  at character {p} of the statement (line {line_no}, column {}):\n    {line}\n    {}^",
        column + 1,
        " ".repeat(column)
    ));
    out
}

fn field_ident(name: &str) -> Option<syn::Ident> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        return None;
    }
    syn::parse_str::<syn::Ident>(name)
        .ok()
        .or_else(|| Some(format_ident!("r#{}", name)))
        .filter(|_| !matches!(name, "self" | "Self" | "super" | "crate" | "_"))
}

fn suggest_name(name: &str) -> String {
    let s = cell_core::snake_chars(name).trim_matches('_').to_string();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("column_{s}")
    } else {
        s
    }
}

/// The Rust type of a Postgres type, by absolute path through cell-runtime's re-exports.
fn rust_tokens(pg: &PgType, rt: &TokenStream) -> Option<TokenStream> {
    let name = rust_type_of(pg)?;
    Some(tokens_of(&name, rt))
}

fn tokens_of(name: &str, rt: &TokenStream) -> TokenStream {
    if let Some(inner) = name.strip_prefix("Vec<").and_then(|s| s.strip_suffix('>')) {
        let inner = tokens_of(inner, rt);
        return quote!(::std::vec::Vec<#inner>);
    }
    match name {
        "String" => quote!(::std::string::String),
        "Uuid" => quote!(#rt::uuid::Uuid),
        "DateTime<Utc>" => quote!(#rt::chrono::DateTime<#rt::chrono::Utc>),
        "NaiveDateTime" => quote!(#rt::chrono::NaiveDateTime),
        "NaiveDate" => quote!(#rt::chrono::NaiveDate),
        "NaiveTime" => quote!(#rt::chrono::NaiveTime),
        "Decimal" => quote!(#rt::rust_decimal::Decimal),
        "JsonValue" => quote!(#rt::serde_json::Value),
        other => {
            let ident = format_ident!("{}", other);
            quote!(#ident)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::{Column, QUERIES_LOCK_VERSION};
    use std::collections::BTreeMap;

    fn lock_with(sql: &str, described: Described) -> QueriesLock {
        let mut queries = BTreeMap::new();
        queries.insert(
            statement_hash(sql),
            LockedQuery {
                sql: sql.into(),
                sites: vec!["src/lib.rs:1".into()],
                described,
            },
        );
        QueriesLock {
            version: QUERIES_LOCK_VERSION,
            queries,
        }
    }

    fn col(name: &str, ty: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty: PgType::new(ty),
            nullable,
        }
    }

    const SQL: &str = "SELECT o.slug, count(c.id) AS customers, max(c.name) AS last FROM organizations o LEFT JOIN customers c ON c.org_id = o.id WHERE o.created_at > $1 GROUP BY o.slug";

    fn described() -> Described {
        Described::Ok {
            params: vec![PgType::new("timestamptz")],
            columns: vec![
                col("slug", "text", false),
                col("customers", "int8", false),
                col("last", "text", true),
            ],
            uses: vec![],
            tables: vec![],
        }
    }

    fn run(
        tokens: TokenStream,
        with_type: bool,
        lock: Option<&QueriesLock>,
        recording: bool,
    ) -> String {
        let input = QueryInput::parse(tokens, with_type).unwrap();
        let view = match lock {
            Some(lock) => QueriesView::Present {
                path: Path::new("/ws/.cell/postgres.queries.lock.json"),
                lock,
            },
            None => QueriesView::Absent,
        };
        expand(&input, view, recording).to_string()
    }

    #[test]
    fn a_described_query_gets_a_typed_record() {
        let lock = lock_with(SQL, described());
        let out = run(quote!(#SQL, since), false, Some(&lock), false);
        assert!(
            out.contains("include_bytes ! (\"/ws/.cell/postgres.queries.lock.json\")"),
            "{out}"
        );
        assert!(
            out.contains("pub slug : :: std :: string :: String"),
            "{out}"
        );
        assert!(out.contains("pub customers : i64"), "{out}");
        assert!(
            out.contains("pub last : :: core :: option :: Option < :: std :: string :: String >"),
            "{out}"
        );
        assert!(
            out.contains("& (since) as & (dyn :: cell_runtime :: __private :: ToSql"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn query_as_fills_the_callers_struct() {
        let lock = lock_with(SQL, described());
        let out = run(quote!(OrgCount, #SQL, since), true, Some(&lock), false);
        assert!(
            out.contains(":: core :: result :: Result < OrgCount"),
            "{out}"
        );
        assert!(out.contains("OrgCount { slug :"), "{out}");
        assert!(!out.contains("struct Record"), "{out}");
    }

    #[test]
    fn overrides_change_nullability_and_type() {
        let sql = "SELECT status AS \"status!: OrderStatus\", total AS \"total?\" FROM orders";
        let lock = lock_with(
            sql,
            Described::Ok {
                params: vec![],
                columns: vec![
                    Column {
                        name: "status!: OrderStatus".into(),
                        ty: PgType {
                            name: "order_status".into(),
                            is_enum: true,
                        },
                        nullable: true,
                    },
                    col("total?", "numeric", false),
                ],
                uses: vec![],
                tables: vec![],
            },
        );
        let out = run(quote!(#sql), false, Some(&lock), false);
        assert!(out.contains("pub status : OrderStatus"), "{out}");
        assert!(out.contains("pub total : :: core :: option :: Option < :: cell_runtime :: rust_decimal :: Decimal >"), "{out}");
    }

    #[test]
    fn an_enum_without_an_override_says_how_to_name_its_type() {
        let sql = "SELECT status FROM orders";
        let lock = lock_with(
            sql,
            Described::Ok {
                params: vec![],
                columns: vec![Column {
                    name: "status".into(),
                    ty: PgType {
                        name: "order_status".into(),
                        is_enum: true,
                    },
                    nullable: false,
                }],
                uses: vec![],
                tables: vec![],
            },
        );
        let out = run(quote!(#sql), false, Some(&lock), false);
        assert!(
            out.contains("(an enum), which has no default Rust type"),
            "{out}"
        );
        assert!(out.contains("status AS \\\"status: YourType\\\""), "{out}");
    }

    #[test]
    fn missing_changed_and_pending_queries() {
        let lock = lock_with(SQL, described());
        let out = run(quote!("SELECT 2"), false, Some(&lock), false);
        assert!(
            out.contains("not in .cell/postgres.queries.lock.json"),
            "{out}"
        );
        assert!(out.contains("cargo cell build"), "{out}");
        assert!(
            out.contains("include_bytes"),
            "a later lock must rebuild the crate: {out}"
        );
        let out = run(quote!("SELECT 2"), false, Some(&lock), true);
        assert!(out.contains(PENDING_MARKER), "{out}");
        let out = run(quote!("SELECT 2"), false, None, true);
        assert!(out.contains(PENDING_MARKER), "{out}");
        let out = run(quote!("SELECT 2"), false, None, false);
        assert!(
            out.contains("there is no .cell/postgres.queries.lock.json yet"),
            "{out}"
        );
    }

    #[test]
    fn the_record_step_stubs_a_typed_query_not_described_yet() {
        let lock = lock_with(SQL, described());
        // query_as!: the row type is known, so it compiles without the description.
        let out = run(quote!(OrgCount, "SELECT 2", x), true, Some(&lock), true);
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("Query :: < OrgCount >"), "{out}");
        assert!(
            out.contains("& (x) as"),
            "the arguments are still type-checked: {out}"
        );
        let out = run(quote!(OrgCount, "SELECT 2"), true, None, true);
        assert!(!out.contains("compile_error"), "{out}");
        // Refused by Postgres: the record step still compiles; phase 2 reports it.
        let bad = "SELECT nmae FROM customers";
        let refused = lock_with(
            bad,
            Described::Rejected {
                message: "column \"nmae\" does not exist".into(),
                position: Some(8),
                hint: None,
            },
        );
        let out = run(quote!(Row, #bad), true, Some(&refused), true);
        assert!(!out.contains("compile_error"), "{out}");
        let out = run(quote!(Row, #bad), true, Some(&refused), false);
        assert!(out.contains("Postgres refuses this query"), "{out}");
        // query!: its fields come from the description, so it waits for it.
        let out = run(quote!("SELECT 2"), false, None, true);
        assert!(out.contains(PENDING_MARKER), "{out}");
    }

    #[test]
    fn wrong_argument_count_names_the_parameters() {
        let lock = lock_with(SQL, described());
        let out = run(quote!(#SQL), false, Some(&lock), false);
        assert!(
            out.contains("this query takes 1 parameter, but 0 arguments are given"),
            "{out}"
        );
        assert!(out.contains("$1 (Postgres types: timestamptz)"), "{out}");
    }

    #[test]
    fn a_refused_query_carries_postgres_message_and_position() {
        let sql = "SELECT o.slgu\nFROM organizations o";
        let lock = lock_with(
            sql,
            Described::Rejected {
                message: "column o.slgu does not exist".into(),
                position: Some(8),
                hint: Some("Perhaps you meant to reference the column \"o.slug\".".into()),
            },
        );
        let out = run(quote!(#sql), false, Some(&lock), false);
        assert!(
            out.contains("Postgres refuses this query: column o.slgu does not exist"),
            "{out}"
        );
        assert!(out.contains("Perhaps you meant"), "{out}");
        let msg = rejected_message(sql, "column o.slgu does not exist", Some(8));
        assert!(
            msg.ends_with("(line 1, column 8):\n    SELECT o.slgu\n           ^"),
            "{msg}"
        );
        let msg = rejected_message(sql, "relation \"organizations\" does not exist", Some(20));
        assert!(msg.contains("(line 2, column 6)"), "{msg}");
    }

    fn run_fn(args: TokenStream, item: TokenStream, lock: &QueriesLock) -> String {
        let f = QueryFn::parse(args, item).unwrap();
        let view = QueriesView::Present {
            path: Path::new("/ws/.cell/postgres.queries.lock.json"),
            lock,
        };
        expand_fn(&f, view, false).to_string()
    }

    #[test]
    fn a_query_function_runs_its_statement_by_its_return_type() {
        let lock = lock_with(SQL, described());
        let out = run_fn(
            quote!(#SQL),
            quote!(
                pub async fn per_org(
                    db: &impl Executor,
                    since: DateTime<Utc>,
                ) -> Result<Vec<OrgCount>, Error>;
            ),
            &lock,
        );
        assert!(
            out.contains("pub async fn per_org (db : & impl Executor , since : DateTime < Utc >"),
            "{out}"
        );
        assert!(out.contains("OrgCount { slug :"), "{out}");
        assert!(out.contains("query . fetch_all (db) . await ?"), "{out}");
        assert!(out.contains("& (since) as"), "{out}");

        let one = "SELECT count(*) AS n FROM customers";
        let lock = lock_with(
            one,
            Described::Ok {
                params: vec![],
                columns: vec![col("n", "int8", false)],
                uses: vec![],
                tables: vec![],
            },
        );
        let out = run_fn(
            quote!(#one),
            quote!(
                async fn n(db: &impl Executor) -> Result<i64, Error>;
            ),
            &lock,
        );
        assert!(out.contains("column :: < i64 > (row , 0)"), "{out}");
        assert!(out.contains("query . fetch_one (db)"), "{out}");
    }

    #[test]
    fn a_query_function_returning_a_nullable_column_must_say_option() {
        let one = "SELECT max(name) AS top FROM customers";
        let lock = lock_with(
            one,
            Described::Ok {
                params: vec![],
                columns: vec![col("top", "text", true)],
                uses: vec![],
                tables: vec![],
            },
        );
        let out = run_fn(
            quote!(#one),
            quote!(
                async fn top(db: &impl Executor) -> Result<String, Error>;
            ),
            &lock,
        );
        assert!(
            out.contains("may be NULL, but the function returns `String`"),
            "{out}"
        );
        assert!(out.contains("unreachable"), "{out}");
        let out = run_fn(
            quote!(#one),
            quote!(
                async fn top(db: &impl Executor) -> Result<Option<String>, Error>;
            ),
            &lock,
        );
        assert!(
            out.contains("query . fetch_one (db)"),
            "one row whose value may be NULL: {out}"
        );
        assert!(
            out.contains("column :: < :: core :: option :: Option < String > > (row , 0)"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn query_function_mistakes_say_how_to_write_it() {
        let bad = |args: TokenStream, item: TokenStream| match QueryFn::parse(args, item) {
            Err(e) => e.to_string(),
            Ok(f) => f.input().err().map(|e| e.to_string()).unwrap_or_default(),
        };
        assert!(
            bad(
                quote!(42),
                quote!(
                    async fn f(db: &impl Executor) -> Result<u64, Error>;
                )
            )
            .contains("one string literal")
        );
        assert!(
            bad(
                quote!("SELECT 1"),
                quote!(
                    fn f(db: &impl Executor) -> Result<u64, Error>;
                )
            )
            .contains("must be async")
        );
        assert!(
            bad(
                quote!("SELECT 1"),
                quote!(
                    async fn f() -> Result<u64, Error>;
                )
            )
            .contains("executor")
        );
        assert!(
            bad(
                quote!("SELECT 1"),
                quote!(
                    async fn f(db: &impl Executor) -> u64;
                )
            )
            .contains("returns `Result<Vec<T>, E>`")
        );
    }

    #[test]
    fn parse_errors_say_how_to_call() {
        let err = QueryInput::parse(quote!(Org, "SELECT 1"), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("query_as!(Type"), "{err}");
        let err = QueryInput::parse(quote!("SELECT 1"), true).err().unwrap();
        assert!(
            err.to_string()
                .contains("query_as! takes the result type first"),
            "{err}"
        );
        let err = QueryInput::parse(quote!(42), false).err().unwrap();
        assert!(err.to_string().contains("string literal"), "{err}");
    }

    #[test]
    fn odd_column_names_get_a_suggestion() {
        let sql = "SELECT 1 + 1";
        let lock = lock_with(
            sql,
            Described::Ok {
                params: vec![],
                columns: vec![col("?column?", "int4", false)],
                uses: vec![],
                tables: vec![],
            },
        );
        let out = run(quote!(#sql), false, Some(&lock), false);
        assert!(out.contains("named `?column?`"), "{out}");
        assert!(out.contains("AS \\\"column\\\""), "{out}");
    }
}

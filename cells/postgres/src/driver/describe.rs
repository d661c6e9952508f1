//! `cargo cell build`'s last Postgres step: every recorded statement prepared on the dev Cell
//! (after the schema is applied), so Postgres itself types its parameters and columns; the
//! result, nullability worked out, in `.cell/postgres.queries.lock.json`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio_postgres::Client;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::{Kind, Type};

use crate::queries::nullability::{self, Origin};
use crate::queries::{
    Column, Described, LockedQuery, PgType, QUERIES_LOCK_VERSION, QueriesLock, QueryDecl,
};

/// How deep a view over views is followed for nullability.
const VIEW_DEPTH: u32 = 4;

/// One relation's columns, from the catalogue.
#[derive(Debug, Default)]
struct Relation {
    name: String,
    is_view: bool,
    /// By attribute number: (name, may be NULL).
    columns: BTreeMap<i16, (String, bool)>,
}

/// The catalogue of the schemas on the search path: enough to answer nullability.
#[derive(Debug, Default)]
struct Catalogue {
    by_oid: HashMap<u32, Relation>,
    /// (relation name, column) → may be NULL.
    by_name: HashMap<(String, String), bool>,
}

impl Catalogue {
    async fn read(client: &Client) -> Result<Catalogue, tokio_postgres::Error> {
        let rows = client
            .query(
                "SELECT c.oid, c.relname::text, c.relkind::text, a.attnum, a.attname::text, a.attnotnull \
                 FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid \
                 WHERE n.nspname = ANY (current_schemas(false)) \
                   AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped",
                &[],
            )
            .await?;
        let mut out = Catalogue::default();
        for row in rows {
            let oid: u32 = row.get(0);
            let name: String = row.get(1);
            let kind: String = row.get(2);
            let attnum: i16 = row.get(3);
            let column: String = row.get(4);
            let not_null: bool = row.get(5);
            let rel = out.by_oid.entry(oid).or_insert_with(|| Relation {
                name: name.clone(),
                is_view: kind == "v" || kind == "m",
                columns: BTreeMap::new(),
            });
            rel.columns.insert(attnum, (column.clone(), !not_null));
            out.by_name.insert((name, column), !not_null);
        }
        Ok(out)
    }
}

/// Describes every statement of `decls` on `client`: the lock to write.
pub async fn describe_all(
    client: &Client,
    decls: &[QueryDecl],
) -> Result<QueriesLock, tokio_postgres::Error> {
    let catalogue = Catalogue::read(client).await?;
    let mut sites: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    for d in decls {
        sites
            .entry(&d.hash)
            .or_insert((&d.sql, BTreeSet::new()))
            .1
            .insert(&d.site);
    }
    let mut lock = QueriesLock {
        version: QUERIES_LOCK_VERSION,
        queries: BTreeMap::new(),
    };
    let mut views = HashMap::new();
    for (hash, (sql, at)) in sites {
        let described = describe(client, &catalogue, &mut views, sql).await?;
        lock.queries.insert(
            hash.to_string(),
            LockedQuery {
                sql: sql.to_string(),
                sites: at.into_iter().map(str::to_string).collect(),
                described,
            },
        );
    }
    Ok(lock)
}

/// One statement: prepared, typed, its nullability inferred. A statement Postgres refuses is
/// `Described::Rejected` (the macro reports it); only a lost connection is an error.
async fn describe(
    client: &Client,
    catalogue: &Catalogue,
    views: &mut HashMap<u32, Vec<bool>>,
    sql: &str,
) -> Result<Described, tokio_postgres::Error> {
    let statement = match client.prepare(sql).await {
        Ok(s) => s,
        Err(e) => match e.as_db_error() {
            Some(db) => {
                return Ok(Described::Rejected {
                    message: db.message().to_string(),
                    position: match db.position() {
                        Some(ErrorPosition::Original(p)) => Some(*p),
                        _ => None,
                    },
                    hint: db.hint().map(str::to_string),
                });
            }
            None => return Err(e),
        },
    };
    let mut uses = BTreeSet::new();
    let nullable =
        columns_nullable(client, catalogue, views, sql, &statement, &mut uses, 0).await?;
    let tables = nullability::tables_named(sql);
    // Every column of a named table whose name the statement mentions: what a schema change
    // must not take away (WHERE and JOIN columns included, not only the selected ones).
    let words = nullability::identifiers(sql);
    for rel in catalogue.by_oid.values() {
        if tables.contains(&rel.name) {
            for (column, _) in rel.columns.values() {
                if words.contains(column) {
                    uses.insert(format!("{}.{column}", rel.name));
                }
            }
        }
    }
    Ok(Described::Ok {
        params: statement.params().iter().map(pg_type).collect(),
        columns: statement
            .columns()
            .iter()
            .zip(nullable)
            .map(|(c, nullable)| Column {
                name: c.name().to_string(),
                ty: pg_type(c.type_()),
                nullable,
            })
            .collect(),
        uses: uses.into_iter().collect(),
        tables: tables.into_iter().collect(),
    })
}

impl Catalogue {
    /// Whether `table.column` may be NULL, as declared; `None` for a column it does not know.
    fn nullable(&self, table: &str, column: &str) -> Option<bool> {
        self.by_name
            .get(&(table.to_string(), column.to_string()))
            .copied()
    }
}

type Boxed<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a>>;

/// Whether each column of `statement` (prepared from `sql`) may be NULL: where Postgres names
/// its origin, from the catalogue (a view's column through the view's own query), the rest
/// from the statement's text. Every table column an origin names goes into `uses`.
fn columns_nullable<'a>(
    client: &'a Client,
    catalogue: &'a Catalogue,
    views: &'a mut HashMap<u32, Vec<bool>>,
    sql: &'a str,
    statement: &'a tokio_postgres::Statement,
    uses: &'a mut BTreeSet<String>,
    depth: u32,
) -> Boxed<'a, Vec<bool>> {
    Box::pin(async move {
        let mut origins = Vec::new();
        for c in statement.columns() {
            let origin = match (c.table_oid(), c.column_id()) {
                (Some(oid), Some(attnum)) if oid != 0 => {
                    origin_of(client, catalogue, views, oid, attnum, uses, depth).await?
                }
                _ => None,
            };
            origins.push(origin);
        }
        Ok(nullability::infer(sql, &origins, &|t, c| {
            catalogue.nullable(t, c)
        }))
    })
}

/// Where a column comes from, with its nullability; a view's column as its query says.
async fn origin_of(
    client: &Client,
    catalogue: &Catalogue,
    views: &mut HashMap<u32, Vec<bool>>,
    oid: u32,
    attnum: i16,
    uses: &mut BTreeSet<String>,
    depth: u32,
) -> Result<Option<Origin>, tokio_postgres::Error> {
    let Some(rel) = catalogue.by_oid.get(&oid) else {
        return Ok(None);
    };
    let Some((column, nullable)) = rel.columns.get(&attnum) else {
        return Ok(None);
    };
    uses.insert(format!("{}.{column}", rel.name));
    let origin = |nullable| {
        Ok(Some(Origin {
            table: rel.name.clone(),
            nullable,
        }))
    };
    if !rel.is_view {
        return origin(*nullable);
    }
    if depth >= VIEW_DEPTH {
        return origin(true);
    }
    if !views.contains_key(&oid) {
        let row = client
            .query_one("SELECT pg_get_viewdef($1::oid)", &[&oid])
            .await?;
        let definition: String = row.get(0);
        let definition = definition.trim().trim_end_matches(';').to_string();
        let inferred = match client.prepare(&definition).await {
            Ok(inner) => {
                columns_nullable(
                    client,
                    catalogue,
                    views,
                    &definition,
                    &inner,
                    uses,
                    depth + 1,
                )
                .await?
            }
            // A view Postgres cannot prepare by its own text: every column may be NULL.
            Err(e) if e.as_db_error().is_some() => Vec::new(),
            Err(e) => return Err(e),
        };
        views.insert(oid, inferred);
    }
    let nullable = views
        .get(&oid)
        .and_then(|cols| cols.get(usize::try_from(attnum - 1).ok()?))
        .copied()
        .unwrap_or(true);
    origin(nullable)
}

fn pg_type(t: &Type) -> PgType {
    PgType {
        name: t.name().to_string(),
        is_enum: matches!(t.kind(), Kind::Enum(_))
            || matches!(t.kind(), Kind::Array(e) if matches!(e.kind(), Kind::Enum(_))),
    }
}

//! Which result columns of a statement may be NULL.
//!
//! Postgres describes a prepared statement's columns, and for a column read straight from a
//! table it names the table and column (so `attnotnull` answers), but it knows nothing of
//! joins: `c.id` on the outer side of a LEFT JOIN is reported as `customers.id`, NOT NULL,
//! and every computed column (`count(*)`, `COALESCE(..)`) as unknown. This module reads the
//! statement itself (sqlparser's Postgres dialect) to fill those gaps, always erring towards
//! "may be NULL": a column wrongly typed `Option<T>` costs an `unwrap`, one wrongly typed `T`
//! fails at run time. The `name!` / `name?` overrides settle what the rules cannot.
//!
//! The rules:
//! - a table column is nullable when it is not `NOT NULL`, or its table appears on the outer
//!   side of any outer join in the statement (LEFT's right, RIGHT's left, both of FULL),
//!   including inside CTEs and subqueries on that side;
//! - a view's column is as nullable as the column of the view's own query;
//! - `count(..)`, `EXISTS`, `IS [NOT] NULL` and non-NULL literals are never NULL; `sum`,
//!   `max`, `min`, `avg` and the other aggregates may be; `COALESCE` is NULL only when all its
//!   arguments may be; operators and casts keep their operands' nullability;
//! - a column of a CTE or a subquery in FROM is as nullable as the expression it names there.

use std::collections::{BTreeSet, HashMap, HashSet};

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Join, JoinOperator, Query, Select,
    SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Where Postgres says a result column comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The table or view, unqualified.
    pub table: String,
    /// Whether the column itself may be NULL (for a view: as its query says).
    pub nullable: bool,
}

/// Nullability of every column of `sql`, given what Postgres said of each column's origin
/// (`None` for a computed column) and, for expressions over table columns, `lookup(table,
/// column)` (whether that column may be NULL; `None` when unknown). A statement sqlparser
/// cannot read gets the origins alone, computed columns nullable.
pub fn infer(
    sql: &str,
    origins: &[Option<Origin>],
    lookup: &dyn Fn(&str, &str) -> Option<bool>,
) -> Vec<bool> {
    let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .ok()
        .and_then(|mut s| (s.len() == 1).then(|| s.remove(0)));
    let query = match &statement {
        Some(Statement::Query(q)) => Some(q.as_ref()),
        _ => None,
    };
    let Some(query) = query else {
        return origins
            .iter()
            .map(|o| o.as_ref().is_none_or(|o| o.nullable))
            .collect();
    };
    let mut outer = HashSet::new();
    let ctes = Ctes::of(query, &Ctes::default());
    outer_tables_of_query(query, &ctes, &mut outer);
    let cx = Cx { lookup, outer };
    let top = first_select(&query.body);
    let plain_projection = top.is_some_and(|s| {
        !s.projection.iter().any(|i| {
            matches!(
                i,
                SelectItem::Wildcard(..) | SelectItem::QualifiedWildcard(..)
            )
        })
    });
    origins
        .iter()
        .enumerate()
        .map(|(i, origin)| match origin {
            Some(o) => o.nullable || cx.outer.contains(&o.table),
            None if plain_projection => column_at(query, i, &ctes, &cx).unwrap_or(true),
            None => true,
        })
        .collect()
}

struct Cx<'a> {
    lookup: &'a dyn Fn(&str, &str) -> Option<bool>,
    /// Every table or view name that appears on the outer side of an outer join.
    outer: HashSet<String>,
}

/// The CTEs in scope, by name.
#[derive(Default, Clone)]
struct Ctes<'q> {
    by_name: HashMap<String, &'q Query>,
}

impl<'q> Ctes<'q> {
    fn of(query: &'q Query, parent: &Ctes<'q>) -> Ctes<'q> {
        let mut out = parent.clone();
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                out.by_name
                    .insert(normal(&cte.alias.name.value), cte.query.as_ref());
            }
        }
        out
    }
}

fn normal(name: &str) -> String {
    name.trim_matches('"').to_lowercase()
}

/// `public.users` → `users`.
fn last_part(name: &impl std::fmt::Display) -> String {
    let text = name.to_string();
    normal(text.rsplit('.').next().unwrap_or(&text))
}

fn first_select(body: &SetExpr) -> Option<&Select> {
    match body {
        SetExpr::Select(s) => Some(s),
        SetExpr::Query(q) => first_select(&q.body),
        SetExpr::SetOperation { left, .. } => first_select(left),
        _ => None,
    }
}

/// Every SELECT of a body (each branch of a UNION).
fn selects<'q>(body: &'q SetExpr, out: &mut Vec<&'q Select>) {
    match body {
        SetExpr::Select(s) => out.push(s),
        SetExpr::Query(q) => selects(&q.body, out),
        SetExpr::SetOperation { left, right, .. } => {
            selects(left, out);
            selects(right, out);
        }
        _ => {}
    }
}

/// The tables and views a statement names (CTE names left out), unqualified.
pub fn tables_named(sql: &str) -> BTreeSet<String> {
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return BTreeSet::new();
    };
    let mut ctes = HashSet::new();
    let _ = sqlparser::ast::visit_statements(&statements, |s| {
        if let Statement::Query(q) = s
            && let Some(with) = &q.with
        {
            for cte in &with.cte_tables {
                ctes.insert(normal(&cte.alias.name.value));
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let mut out = BTreeSet::new();
    let _ = sqlparser::ast::visit_relations(&statements, |name| {
        let n = last_part(name);
        if !ctes.contains(&n) {
            out.insert(n);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    out
}

/// Every word of the statement outside string literals, lowercased unless quoted: the column
/// names it may mention.
pub fn identifiers(sql: &str) -> HashSet<String> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return HashSet::new();
    };
    tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_some() => Some(w.value),
            Token::Word(w) => Some(w.value.to_lowercase()),
            _ => None,
        })
        .collect()
}

// ---- outer sides -------------------------------------------------------------------------

fn outer_tables_of_query<'q>(query: &'q Query, ctes: &Ctes<'q>, out: &mut HashSet<String>) {
    let ctes = Ctes::of(query, ctes);
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            outer_tables_of_query(&cte.query, &ctes, out);
        }
    }
    let mut all = Vec::new();
    selects(&query.body, &mut all);
    for select in all {
        for twj in &select.from {
            outer_tables_of_from(twj, &ctes, out);
        }
    }
}

fn outer_tables_of_from<'q>(twj: &'q TableWithJoins, ctes: &Ctes<'q>, out: &mut HashSet<String>) {
    // Subqueries anywhere in FROM have their own joins.
    subqueries_of_factor(&twj.relation, ctes, out);
    for (i, join) in twj.joins.iter().enumerate() {
        subqueries_of_factor(&join.relation, ctes, out);
        let (left_outer, right_outer) = sides(join);
        if right_outer {
            names_in_factor(&join.relation, ctes, out);
        }
        if left_outer {
            names_in_factor(&twj.relation, ctes, out);
            for before in &twj.joins[..i] {
                names_in_factor(&before.relation, ctes, out);
            }
        }
    }
}

/// (the left side may be NULL, the right side may be NULL).
fn sides(join: &Join) -> (bool, bool) {
    match &join.join_operator {
        JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => (false, true),
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => (true, false),
        JoinOperator::FullOuter(_) => (true, true),
        JoinOperator::OuterApply => (false, true),
        _ => (false, false),
    }
}

fn subqueries_of_factor<'q>(factor: &'q TableFactor, ctes: &Ctes<'q>, out: &mut HashSet<String>) {
    match factor {
        TableFactor::Derived { subquery, .. } => outer_tables_of_query(subquery, ctes, out),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => outer_tables_of_from(table_with_joins, ctes, out),
        _ => {}
    }
}

/// Every name a factor on an outer side makes nullable: its table (and alias), and the
/// tables inside it (a subquery's, a CTE's, a nested join's).
fn names_in_factor<'q>(factor: &'q TableFactor, ctes: &Ctes<'q>, out: &mut HashSet<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let n = last_part(name);
            if let Some(q) = ctes.by_name.get(&n) {
                names_in_query(q, ctes, out);
            }
            out.insert(n);
            if let Some(a) = alias {
                out.insert(normal(&a.name.value));
            }
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => {
            names_in_query(subquery, ctes, out);
            if let Some(a) = alias {
                out.insert(normal(&a.name.value));
            }
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            names_in_factor(&table_with_joins.relation, ctes, out);
            for j in &table_with_joins.joins {
                names_in_factor(&j.relation, ctes, out);
            }
            if let Some(a) = alias {
                out.insert(normal(&a.name.value));
            }
        }
        _ => {}
    }
}

fn names_in_query<'q>(query: &'q Query, ctes: &Ctes<'q>, out: &mut HashSet<String>) {
    let ctes = Ctes::of(query, ctes);
    let mut all = Vec::new();
    selects(&query.body, &mut all);
    for select in all {
        for twj in &select.from {
            names_in_factor(&twj.relation, &ctes, out);
            for j in &twj.joins {
                names_in_factor(&j.relation, &ctes, out);
            }
        }
    }
}

// ---- computed columns --------------------------------------------------------------------

/// What a name in FROM stands for.
enum Source<'q> {
    Table(String),
    Query(&'q Query),
}

struct Scope<'q> {
    /// By alias, or by table name when it has none.
    sources: Vec<(String, Source<'q>)>,
    ctes: Ctes<'q>,
}

impl<'q> Scope<'q> {
    fn of(select: &'q Select, ctes: &Ctes<'q>) -> Scope<'q> {
        let mut sources = Vec::new();
        for twj in &select.from {
            add_sources(&twj.relation, ctes, &mut sources);
            for j in &twj.joins {
                add_sources(&j.relation, ctes, &mut sources);
            }
        }
        Scope {
            sources,
            ctes: ctes.clone(),
        }
    }
}

fn add_sources<'q>(factor: &'q TableFactor, ctes: &Ctes<'q>, out: &mut Vec<(String, Source<'q>)>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let n = last_part(name);
            let key = alias.as_ref().map_or(n.clone(), |a| normal(&a.name.value));
            let source = match ctes.by_name.get(&n) {
                Some(q) => Source::Query(q),
                None => Source::Table(n),
            };
            out.push((key, source));
        }
        TableFactor::Derived {
            subquery,
            alias: Some(a),
            ..
        } => out.push((normal(&a.name.value), Source::Query(subquery))),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            add_sources(&table_with_joins.relation, ctes, out);
            for j in &table_with_joins.joins {
                add_sources(&j.relation, ctes, out);
            }
        }
        _ => {}
    }
}

/// The nullability of output column `i` of `query` (every branch of a UNION).
fn column_at<'q>(query: &'q Query, i: usize, ctes: &Ctes<'q>, cx: &Cx<'_>) -> Option<bool> {
    let ctes = Ctes::of(query, ctes);
    let mut all = Vec::new();
    selects(&query.body, &mut all);
    if all.is_empty() {
        return None;
    }
    let mut nullable = false;
    for select in all {
        let item = select.projection.get(i)?;
        let expr = match item {
            SelectItem::UnnamedExpr(e) => e,
            SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => return None,
        };
        let scope = Scope::of(select, &ctes);
        nullable |= expr_nullable(expr, &scope, cx);
    }
    Some(nullable)
}

/// The nullability of the output column called `name` of `query`.
fn column_named<'q>(query: &'q Query, name: &str, ctes: &Ctes<'q>, cx: &Cx<'_>) -> Option<bool> {
    let ctes = Ctes::of(query, ctes);
    let select = first_select(&query.body)?;
    let i = select.projection.iter().position(|item| match item {
        SelectItem::ExprWithAlias { alias, .. } => normal(&alias.value) == name,
        SelectItem::UnnamedExpr(e) => output_name(e).is_some_and(|n| n == name),
        _ => false,
    });
    match i {
        Some(i) => column_at(query, i, &ctes, cx),
        None => {
            // `SELECT *` or `t.*`: the name is one of the sources' columns.
            let scope = Scope::of(select, &ctes);
            resolve(&scope, None, name, cx)
        }
    }
}

/// The name Postgres gives an unaliased expression: a column's name, a function's name.
fn output_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(normal(&i.value)),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| normal(&i.value)),
        Expr::Function(f) => Some(last_part(&f.name)),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => output_name(expr),
        _ => None,
    }
}

/// `qualifier.name` (or `name`) in `scope`: may it be NULL? `None` when unknown.
fn resolve(scope: &Scope<'_>, qualifier: Option<&str>, name: &str, cx: &Cx<'_>) -> Option<bool> {
    for (key, source) in &scope.sources {
        if qualifier.is_some_and(|q| q != key) {
            continue;
        }
        let found = match source {
            Source::Table(t) => (cx.lookup)(t, name),
            Source::Query(q) => column_named(q, name, &scope.ctes, cx),
        };
        if let Some(nullable) = found {
            return Some(nullable || cx.outer.contains(key));
        }
    }
    None
}

const AGGREGATES_NEVER_NULL: &[&str] = &["count"];
const NEVER_NULL: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "concat",
    "concat_ws",
    "gen_random_uuid",
    "row_number",
    "rank",
    "dense_rank",
];
/// Functions that return NULL only for a NULL argument.
const STRICT: &[&str] = &[
    "lower",
    "upper",
    "length",
    "char_length",
    "abs",
    "round",
    "trunc",
    "floor",
    "ceil",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "date_trunc",
    "extract",
    "date_part",
    "md5",
    "left",
    "right",
    "substr",
    "substring",
    "replace",
    "to_char",
];

fn expr_nullable(e: &Expr, scope: &Scope<'_>, cx: &Cx<'_>) -> bool {
    match e {
        Expr::Nested(x) | Expr::Cast { expr: x, .. } | Expr::UnaryOp { expr: x, .. } => {
            expr_nullable(x, scope, cx)
        }
        Expr::Value(v) => v.to_string().eq_ignore_ascii_case("null"),
        Expr::TypedString { .. } => false,
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::Exists { .. } => false,
        Expr::BinaryOp { left, right, .. } => {
            expr_nullable(left, scope, cx) || expr_nullable(right, scope, cx)
        }
        Expr::Identifier(i) => resolve(scope, None, &normal(&i.value), cx).unwrap_or(true),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let name = normal(&parts[parts.len() - 1].value);
            let qualifier = normal(&parts[parts.len() - 2].value);
            resolve(scope, Some(&qualifier), &name, cx).unwrap_or(true)
        }
        Expr::Function(f) => {
            let name = last_part(&f.name);
            // An OVER clause does not change what the function returns for NULLs.
            if AGGREGATES_NEVER_NULL.contains(&name.as_str()) || NEVER_NULL.contains(&name.as_str())
            {
                return false;
            }
            let args = function_args(&f.args);
            if name == "coalesce" {
                return args.iter().all(|a| expr_nullable(a, scope, cx));
            }
            if STRICT.contains(&name.as_str()) && f.over.is_none() {
                return args.iter().any(|a| expr_nullable(a, scope, cx));
            }
            true
        }
        Expr::Case {
            conditions,
            else_result,
            ..
        } => {
            let Some(otherwise) = else_result else {
                return true;
            };
            expr_nullable(otherwise, scope, cx)
                || conditions
                    .iter()
                    .any(|w| expr_nullable(&w.result, scope, cx))
        }
        _ => true,
    }
}

fn function_args(args: &FunctionArguments) -> Vec<&Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `customers.name` and `orders.total` may be NULL; every other column is NOT NULL.
    fn lookup(table: &str, column: &str) -> Option<bool> {
        match (table, column) {
            ("customers", "name") | ("orders", "total") => Some(true),
            ("customers" | "organizations" | "orders", _) => Some(false),
            _ => None,
        }
    }

    fn table(t: &str) -> Option<Origin> {
        Some(Origin {
            table: t.into(),
            nullable: lookup(t, "id").unwrap_or(true),
        })
    }

    fn infer_for(sql: &str, origins: &[Option<Origin>]) -> Vec<bool> {
        infer(sql, origins, &lookup)
    }

    #[test]
    fn the_outer_side_of_a_left_join_may_be_null() {
        let sql = "SELECT o.slug, c.id AS customer, count(c.id) AS customers \
                   FROM organizations o LEFT JOIN customers c ON c.org_id = o.id GROUP BY 1, 2";
        let got = infer_for(sql, &[table("organizations"), table("customers"), None]);
        assert_eq!(got, [false, true, false]);
    }

    #[test]
    fn both_sides_of_a_full_join_and_the_left_of_a_right_join() {
        let sql = "SELECT o.id, c.id FROM organizations o FULL JOIN customers c ON c.org_id = o.id";
        assert_eq!(
            infer_for(sql, &[table("organizations"), table("customers")]),
            [true, true]
        );
        let sql = "SELECT o.id, c.id FROM organizations o RIGHT JOIN customers c ON true";
        assert_eq!(
            infer_for(sql, &[table("organizations"), table("customers")]),
            [true, false]
        );
        let sql = "SELECT o.id, c.id FROM organizations o JOIN customers c ON true";
        assert_eq!(
            infer_for(sql, &[table("organizations"), table("customers")]),
            [false, false]
        );
    }

    #[test]
    fn aggregates_count_is_never_null_the_others_may_be() {
        let sql =
            "SELECT count(*), count(total), sum(total), max(id), min(id), avg(total) FROM orders";
        assert_eq!(
            infer_for(sql, &[None, None, None, None, None, None]),
            [false, false, true, true, true, true]
        );
    }

    #[test]
    fn coalesce_is_null_only_when_every_argument_may_be() {
        let sql = "SELECT COALESCE(sum(total), 0) AS a, COALESCE(total, NULL) AS b, \
                   coalesce(name, 'anonymous') AS c FROM orders, customers";
        assert_eq!(infer_for(sql, &[None, None, None]), [false, true, false]);
    }

    #[test]
    fn a_cte_column_is_what_the_cte_says() {
        let sql = "WITH per_org AS (SELECT org_id, count(*) AS n, max(total) AS top FROM orders GROUP BY org_id) \
                   SELECT p.n, p.top, p.n + 1 AS next FROM per_org p";
        assert_eq!(infer_for(sql, &[None, None, None]), [false, true, false]);
    }

    #[test]
    fn a_cte_or_subquery_on_the_outer_side_makes_its_tables_nullable() {
        let sql = "WITH c AS (SELECT id, org_id FROM customers) \
                   SELECT o.id, c.id FROM organizations o LEFT JOIN c ON c.org_id = o.id";
        assert_eq!(
            infer_for(sql, &[table("organizations"), table("customers")]),
            [false, true]
        );
        let sql = "SELECT o.id, s.n FROM organizations o \
                   LEFT JOIN (SELECT org_id, count(*) AS n FROM customers GROUP BY org_id) s ON s.org_id = o.id";
        assert_eq!(
            infer_for(sql, &[table("organizations"), None]),
            [false, true]
        );
    }

    #[test]
    fn literals_case_and_operators() {
        let sql = "SELECT 1, NULL, 'x' || name, id * 2, CASE WHEN id > 1 THEN 'a' ELSE 'b' END, \
                   CASE WHEN id > 1 THEN 'a' END, EXISTS (SELECT 1), name IS NULL FROM customers";
        assert_eq!(
            infer_for(sql, &[None, None, None, None, None, None, None, None]),
            [false, true, true, false, false, true, false, false]
        );
    }

    #[test]
    fn a_view_column_keeps_the_nullability_postgres_and_the_view_give() {
        // The driver describes the view's own query; here that said NOT NULL.
        let view = Some(Origin {
            table: "active_customers".into(),
            nullable: false,
        });
        assert_eq!(
            infer_for(
                "SELECT id FROM active_customers",
                std::slice::from_ref(&view)
            ),
            [false]
        );
        let sql = "SELECT o.id, v.id FROM organizations o LEFT JOIN active_customers v ON true";
        assert_eq!(
            infer_for(sql, &[table("organizations"), view]),
            [false, true]
        );
    }

    #[test]
    fn unreadable_or_non_select_statements_fall_back_to_the_origins() {
        assert_eq!(
            infer_for(
                "INSERT INTO orders (total) VALUES ($1) RETURNING id, total + 1",
                &[table("orders"), None]
            ),
            [false, true]
        );
        assert_eq!(infer_for("NOT SQL AT ALL", &[None]), [true]);
    }

    #[test]
    fn tables_and_words_of_a_statement() {
        let sql = "WITH t AS (SELECT id FROM public.orders) SELECT c.\"Name\" FROM customers c \
                   JOIN t ON t.id = c.id WHERE c.email = 'total'";
        let tables: Vec<String> = tables_named(sql).into_iter().collect();
        assert_eq!(tables, ["customers", "orders"]);
        let words = identifiers(sql);
        assert!(words.contains("Name") && words.contains("email") && words.contains("id"));
        assert!(!words.contains("total"), "string literals are not names");
    }

    #[test]
    fn a_wildcard_keeps_origins_and_makes_computed_columns_nullable() {
        let sql = "SELECT *, count(*) OVER () FROM customers";
        assert_eq!(infer_for(sql, &[table("customers"), None]), [false, true]);
    }
}

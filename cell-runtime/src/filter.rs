//! Typed column filters for the generated `update_where` and `delete_where`.
//!
//! Every `#[Postgres::table]` struct `User` gets `User::columns()`, a value with one
//! [`Column`] per field (`User::columns().email`). A column makes a [`Filter`] (`eq`, `ne`,
//! `lt`, `le`, `gt`, `ge`, `is_in`, `is_null`, `is_not_null`, combined with `and`, `or`,
//! `not`) or a [`Set`] (`set`, combined with `and`). Values are bound as parameters, never
//! written into the SQL, and each has the field's type, so a filter on the wrong type or on
//! another table's column does not compile.

use std::fmt::Write as _;
use std::marker::PhantomData;

use tokio_postgres::types::ToSql;

type Value = Box<dyn ToSql + Sync + Send>;

/// A column of table `T` holding values of type `V` (the field's type).
pub struct Column<T, V> {
    /// The quoted column name.
    name: &'static str,
    _types: PhantomData<fn() -> (T, V)>,
}

impl<T, V> Clone for Column<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, V> Copy for Column<T, V> {}

impl<T, V> std::fmt::Debug for Column<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Column").field(&self.name).finish()
    }
}

impl<T, V> Column<T, V> {
    /// For generated code: `name` is already quoted.
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _types: PhantomData,
        }
    }

    /// `column IS NULL`.
    pub fn is_null(self) -> Filter<T> {
        Filter::node(Node::Null(self.name, true))
    }

    /// `column IS NOT NULL`.
    pub fn is_not_null(self) -> Filter<T> {
        Filter::node(Node::Null(self.name, false))
    }
}

impl<T, V: ToSql + Sync + Send + 'static> Column<T, V> {
    fn compare(self, op: &'static str, value: impl Into<V>) -> Filter<T> {
        Filter::node(Node::Compare(self.name, op, Box::new(value.into())))
    }

    /// `column = value`. On an `Option` column, `eq(None)` matches no row (SQL's `= NULL`):
    /// use [`is_null`](Self::is_null).
    pub fn eq(self, value: impl Into<V>) -> Filter<T> {
        self.compare("=", value)
    }

    /// `column <> value`.
    pub fn ne(self, value: impl Into<V>) -> Filter<T> {
        self.compare("<>", value)
    }

    /// `column < value`.
    pub fn lt(self, value: impl Into<V>) -> Filter<T> {
        self.compare("<", value)
    }

    /// `column <= value`.
    pub fn le(self, value: impl Into<V>) -> Filter<T> {
        self.compare("<=", value)
    }

    /// `column > value`.
    pub fn gt(self, value: impl Into<V>) -> Filter<T> {
        self.compare(">", value)
    }

    /// `column >= value`.
    pub fn ge(self, value: impl Into<V>) -> Filter<T> {
        self.compare(">=", value)
    }

    /// `column = ANY(values)`: one array parameter, so the statement is the same whatever
    /// the number of values (and is prepared once). An empty list matches no row.
    pub fn is_in(self, values: Vec<V>) -> Filter<T>
    where
        Vec<V>: ToSql + Sync + Send,
    {
        Filter::node(Node::Any(self.name, Box::new(values)))
    }

    /// `SET column = value`, for `update_where`.
    pub fn set(self, value: impl Into<V>) -> Set<T> {
        Set {
            assignments: vec![(self.name, Box::new(value.into()))],
            _table: PhantomData,
        }
    }
}

enum Node {
    Compare(&'static str, &'static str, Value),
    Any(&'static str, Value),
    Null(&'static str, bool),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    True,
}

/// A condition on rows of table `T`: the `WHERE` of `update_where` and `delete_where`.
pub struct Filter<T> {
    node: Node,
    _table: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Filter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sql = String::new();
        let mut params = Vec::new();
        self.node.render(None, 0, &mut sql, &mut params);
        f.debug_tuple("Filter").field(&sql).finish()
    }
}

impl<T> Filter<T> {
    fn node(node: Node) -> Self {
        Filter {
            node,
            _table: PhantomData,
        }
    }

    /// Every row (`WHERE TRUE`): `delete_where(db, Filter::all())` empties the table.
    pub fn all() -> Self {
        Filter::node(Node::True)
    }

    /// Both conditions.
    pub fn and(self, other: Filter<T>) -> Self {
        Filter::node(Node::And(Box::new(self.node), Box::new(other.node)))
    }

    /// Either condition.
    pub fn or(self, other: Filter<T>) -> Self {
        Filter::node(Node::Or(Box::new(self.node), Box::new(other.node)))
    }

    /// The opposite condition (SQL's `NOT`: a NULL comparison stays NULL, so matches no row).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Filter::node(Node::Not(Box::new(self.node)))
    }
}

/// The assignments of `update_where`: `User::columns().name.set("x").and(...)`.
pub struct Set<T> {
    assignments: Vec<(&'static str, Value)>,
    _table: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Set<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.assignments.iter().map(|(c, _)| c))
            .finish()
    }
}

impl<T> Set<T> {
    /// Both assignments (the later one wins when both set the same column).
    pub fn and(mut self, other: Set<T>) -> Self {
        for (column, value) in other.assignments {
            self.assignments.retain(|(c, _)| *c != column);
            self.assignments.push((column, value));
        }
        self
    }
}

impl Node {
    fn render<'a>(
        &'a self,
        qualifier: Option<&str>,
        offset: usize,
        sql: &mut String,
        params: &mut Vec<&'a (dyn ToSql + Sync)>,
    ) {
        let column = |sql: &mut String, name: &str| {
            if let Some(q) = qualifier {
                sql.push_str(q);
                sql.push('.');
            }
            sql.push_str(name);
        };
        match self {
            Node::Compare(name, op, value) => {
                column(sql, name);
                params.push(value.as_ref());
                let _ = write!(sql, " {op} ${}", offset + params.len());
            }
            Node::Any(name, values) => {
                column(sql, name);
                params.push(values.as_ref());
                let _ = write!(sql, " = ANY(${})", offset + params.len());
            }
            Node::Null(name, null) => {
                column(sql, name);
                sql.push_str(if *null { " IS NULL" } else { " IS NOT NULL" });
            }
            Node::And(a, b) | Node::Or(a, b) => {
                sql.push('(');
                a.render(qualifier, offset, sql, params);
                sql.push_str(if matches!(self, Node::And(..)) {
                    " AND "
                } else {
                    " OR "
                });
                b.render(qualifier, offset, sql, params);
                sql.push(')');
            }
            Node::Not(a) => {
                sql.push_str("NOT (");
                a.render(qualifier, offset, sql, params);
                sql.push(')');
            }
            Node::True => sql.push_str("TRUE"),
        }
    }
}

/// Used by generated code: the SQL of `update_where` and `delete_where`.
#[doc(hidden)]
pub mod sql {
    use super::*;

    /// `DELETE FROM <table> WHERE <filter>`, then ` RETURNING <returning>` when not empty.
    pub fn delete<'a, T>(
        table: &str,
        filter: &'a Filter<T>,
        returning: &str,
    ) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
        let mut sql = format!("DELETE FROM {table} WHERE ");
        let mut params = Vec::new();
        filter.node.render(None, 0, &mut sql, &mut params);
        if !returning.is_empty() {
            let _ = write!(sql, " RETURNING {returning}");
        }
        (sql, params)
    }

    /// `UPDATE <table> SET <set> WHERE <filter>`. With `old_by`, the primary key's quoted
    /// column: the table is joined to itself as it was before the update, so `returning` can
    /// name `"__new".<col>` and `"__old".<col>` (the keys a cache must invalidate).
    pub fn update<'a, T>(
        table: &str,
        filter: &'a Filter<T>,
        set: &'a Set<T>,
        old_by: Option<&str>,
        returning: &str,
    ) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
        let mut sql = format!("UPDATE {table}");
        if old_by.is_some() {
            sql.push_str(" AS \"__new\"");
        }
        sql.push_str(" SET ");
        let mut params: Vec<&'a (dyn ToSql + Sync)> = Vec::new();
        for (n, (column, value)) in set.assignments.iter().enumerate() {
            if n > 0 {
                sql.push_str(", ");
            }
            params.push(value.as_ref());
            let _ = write!(sql, "{column} = ${}", params.len());
        }
        let offset = params.len();
        let mut filter_params = Vec::new();
        let mut filter_sql = String::new();
        match old_by {
            Some(pk) => {
                let _ = write!(
                    sql,
                    " FROM {table} AS \"__old\" WHERE \"__new\".{pk} = \"__old\".{pk} AND "
                );
                filter.node.render(
                    Some("\"__new\""),
                    offset,
                    &mut filter_sql,
                    &mut filter_params,
                );
            }
            None => {
                sql.push_str(" WHERE ");
                filter
                    .node
                    .render(None, offset, &mut filter_sql, &mut filter_params);
            }
        }
        sql.push_str(&filter_sql);
        params.extend(filter_params);
        if !returning.is_empty() {
            let _ = write!(sql, " RETURNING {returning}");
        }
        (sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct User;
    const ID: Column<User, i64> = Column::new("\"id\"");
    const EMAIL: Column<User, String> = Column::new("\"email\"");
    const NICK: Column<User, Option<String>> = Column::new("\"nickname\"");

    #[test]
    fn filters_bind_every_value_in_order() {
        let f = EMAIL
            .eq("a@b.c")
            .and(ID.lt(10).or(NICK.is_null()))
            .and(ID.is_in(vec![1, 2]).not());
        let (sql, params) = sql::delete("\"users\"", &f, "");
        assert_eq!(
            sql,
            r#"DELETE FROM "users" WHERE (("email" = $1 AND ("id" < $2 OR "nickname" IS NULL)) AND NOT ("id" = ANY($3)))"#
        );
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn update_numbers_the_set_before_the_filter() {
        let f = ID.ge(5);
        let s = NICK
            .set(Some("x".to_string()))
            .and(EMAIL.set("e"))
            .and(NICK.set(None));
        let (sql, params) = sql::update("\"users\"", &f, &s, None, "");
        assert_eq!(
            sql,
            r#"UPDATE "users" SET "email" = $1, "nickname" = $2 WHERE "id" >= $3"#
        );
        assert_eq!(params.len(), 3);
        let (sql, _) = sql::update(
            "\"users\"",
            &f,
            &s,
            Some("\"id\""),
            "\"__new\".\"id\", \"__old\".\"email\"",
        );
        assert_eq!(
            sql,
            r#"UPDATE "users" AS "__new" SET "email" = $1, "nickname" = $2 FROM "users" AS "__old" WHERE "__new"."id" = "__old"."id" AND "__new"."id" >= $3 RETURNING "__new"."id", "__old"."email""#
        );
    }

    #[test]
    fn all_is_true() {
        let all = Filter::<User>::all();
        let (sql, params) = sql::delete("\"t\"", &all, "\"id\"");
        assert_eq!(sql, r#"DELETE FROM "t" WHERE TRUE RETURNING "id""#);
        assert!(params.is_empty());
    }
}

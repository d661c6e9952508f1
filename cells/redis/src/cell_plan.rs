//! The Redis Cell's plan as every command sees it ([`CellPlan`]): [`crate::plan::Plan`]
//! with the text, JSON and `plan --check` wording cargo-cell has always shown for Redis.

use std::any::Any;

use cell_core::plan::{Action, CellPlan, Render, Summary};

use crate::plan::{Change, Plan};

/// What applying the code's caches changes, against the lock and the live settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisPlan {
    pub plan: Plan,
}

impl RedisPlan {
    pub fn new(plan: Plan) -> RedisPlan {
        RedisPlan { plan }
    }
}

/// What a change does to its object: a cache or a memoized function is added or dropped;
/// a changed cache and a setting are updated.
pub fn action(change: &Change) -> Action {
    match change {
        Change::AddTable(..) | Change::AddFunction(..) => Action::Create,
        Change::DropTable(..) | Change::DropFunction(..) => Action::Delete,
        Change::ChangeTable { .. } | Change::ChangeFunction { .. } | Change::Setting { .. } => {
            Action::Update
        }
    }
}

impl CellPlan for RedisPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.plan.changes.iter().map(action))
    }

    /// `redis: No changes. ...`, or `redis: N changes` and one line a change. Undecorated
    /// (the Redis section has never been coloured), with or without `--sql` (there is none).
    fn render(&self, _how: &Render<'_>) -> String {
        if self.plan.is_empty() {
            "redis: No changes. The caches match the code.\n".to_string()
        } else {
            format!("redis: {}\n{}", self.plan.summary(), self.plan.render())
        }
    }

    /// `{"changes": [...]}`, each change as [`Change`] serialises.
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::to_value(&self.plan).expect("redis plan serialises"))
    }

    fn problems(&self) -> Vec<String> {
        if self.plan.is_empty() {
            Vec::new()
        } else {
            vec!["the caches differ from the redis lock".into()]
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Lock;
    use crate::plan::diff;
    use cell_core::plan::Plain;
    use std::collections::BTreeMap;

    fn decls() -> (
        Vec<crate::declare::TableCacheDecl>,
        Vec<crate::declare::MemoizeDecl>,
    ) {
        let table = crate::declare::TableCacheDecl {
            table: "products".into(),
            rust_name: "Product".into(),
            app: "shop".into(),
            namespace: "cell:shop:t:products:aa".into(),
            ttl_secs: 3600,
            keys: vec!["id".into(), "sku".into()],
        };
        let memo = crate::declare::MemoizeDecl {
            function: "shop::get_user".into(),
            app: "shop".into(),
            namespace: "cell:shop:m:0011".into(),
            ttl_secs: 300,
            stale_while_revalidate_secs: None,
            tags: vec!["user:{id}".into()],
        };
        (vec![table], vec![memo])
    }

    fn first_plan() -> RedisPlan {
        let (t, f) = decls();
        let desired = Lock::desired(&t, &f, crate::cell::default_settings());
        let live = BTreeMap::from([("maxmemory-policy".into(), "noeviction".into())]);
        RedisPlan::new(diff(None, &desired, &live))
    }

    fn render(plan: &RedisPlan) -> String {
        plan.render(&Render {
            style: &Plain,
            with_sql: true,
        })
    }

    #[test]
    fn the_text_is_the_redis_section_of_cargo_cell_plan() {
        let plan = first_plan();
        assert_eq!(
            render(&plan),
            "redis: 3 changes\n\
             \x20 + cache table products: ttl 1h, keys id, sku, namespace cell:shop:t:products:aa\n\
             \x20 + memoize shop::get_user: ttl 5m, tags user:{id}, namespace cell:shop:m:0011\n\
             \x20 ~ setting maxmemory-policy: noeviction -> allkeys-lru\n"
        );
        assert_eq!(
            render(&RedisPlan::default()),
            "redis: No changes. The caches match the code.\n"
        );
    }

    #[test]
    fn counts_adds_changes_and_drops() {
        assert_eq!(
            first_plan().summary(),
            Summary {
                add: 2,
                change: 1,
                destroy: 0
            }
        );
        let (t, f) = decls();
        let old = Lock::desired(&t, &f, crate::cell::default_settings());
        let gone = Lock::desired(&[], &[], crate::cell::default_settings());
        let plan = RedisPlan::new(diff(Some(&old), &gone, &crate::cell::default_settings()));
        assert_eq!(
            plan.summary(),
            Summary {
                add: 0,
                change: 0,
                destroy: 2
            }
        );
        assert!(RedisPlan::default().summary().is_empty());
    }

    #[test]
    fn json_is_the_plan_as_it_serialises() {
        let json = first_plan().to_json().unwrap();
        assert_eq!(
            json,
            serde_json::json!({"changes": [
                {"add_table": ["products", {
                    "namespace": "cell:shop:t:products:aa", "ttl": "1h", "keys": ["id", "sku"]
                }]},
                {"add_function": ["shop::get_user", {
                    "namespace": "cell:shop:m:0011", "ttl": "5m", "tags": ["user:{id}"]
                }]},
                {"setting": {"name": "maxmemory-policy", "from": "noeviction", "to": "allkeys-lru"}}
            ]})
        );
        assert_eq!(
            RedisPlan::default().to_json().unwrap(),
            serde_json::json!({"changes": []})
        );
    }

    #[test]
    fn check_reports_a_difference_in_one_line() {
        assert_eq!(
            first_plan().problems(),
            ["the caches differ from the redis lock"]
        );
        assert!(RedisPlan::default().problems().is_empty());
        assert!(first_plan().flags().is_empty());
        assert!(!first_plan().is_empty());
    }
}

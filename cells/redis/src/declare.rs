//! What the code declares, as recorded in the manifest: one [`TableCacheDecl`] per
//! `#[Redis::cache]` table and one [`MemoizeDecl`] per `#[Cache::memoize]` function.

use serde::{Deserialize, Serialize};

/// `#[Redis::cache(ttl = "1h")]` on a `#[Postgres::table]` struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCacheDecl {
    /// The table's name.
    pub table: String,
    /// The struct's name, for messages.
    pub rust_name: String,
    /// The package declaring it.
    pub app: String,
    /// `cell:{app}:t:{table}:{fingerprint}`.
    pub namespace: String,
    pub ttl_secs: u64,
    /// The cached finders' fields: the primary key, then the `#[Redis::cache_key]` fields.
    pub keys: Vec<String>,
}

/// `#[Cache::memoize(...)]` (or `#[Performance::cache(...)]`) on an async function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoizeDecl {
    /// `{app}::{fn}`: the function's module path is only known when the program runs.
    pub function: String,
    pub app: String,
    /// `cell:{app}:m:{fingerprint}`.
    pub namespace: String,
    pub ttl_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_while_revalidate_secs: Option<u64>,
    /// Tag templates as written, such as `user:{id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn products(ns: &str, ttl: u64) -> TableCacheDecl {
        TableCacheDecl {
            table: "products".into(),
            rust_name: "Product".into(),
            app: "shop".into(),
            namespace: ns.into(),
            ttl_secs: ttl,
            keys: vec!["id".into(), "sku".into()],
        }
    }

    pub fn get_user(ttl: u64, tags: &[&str]) -> MemoizeDecl {
        MemoizeDecl {
            function: "shop::get_user".into(),
            app: "shop".into(),
            namespace: "cell:shop:m:0011".into(),
            ttl_secs: ttl,
            stale_while_revalidate_secs: Some(3600),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_json() {
        let t = fixtures::products("cell:shop:t:products:aa", 3600);
        let back: TableCacheDecl =
            serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let m = fixtures::get_user(300, &["user:{id}"]);
        let back: MemoizeDecl = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}

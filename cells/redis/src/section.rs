//! The Redis Cell's part of the manifest: the `redis` key of `manifest.json`, holding the
//! `#[Redis::cache]` tables and the `#[Cache::memoize]` functions recorded from the code.

use std::any::Any;

use cell_core::cell::decode;
use cell_core::{CellError, Section};
use serde::{Deserialize, Serialize};

use crate::CELL_NAME;
use crate::declare::{MemoizeDecl, TableCacheDecl};

/// The Redis Cell's items, sorted and each once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisSection {
    /// Sorted by table, then namespace.
    pub tables: Vec<TableCacheDecl>,
    /// Sorted by function, then namespace.
    pub functions: Vec<MemoizeDecl>,
}

impl RedisSection {
    /// The section of a manifest read from a file: its `redis` key (none: empty).
    pub fn read(
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<RedisSection, serde_json::Error> {
        match manifest.get(CELL_NAME) {
            Some(value) => RedisSection::deserialize(value),
            None => Ok(RedisSection::default()),
        }
    }
}

impl Section for RedisSection {
    /// `cache` (a table) or `memoize` (a function); the same declaration twice (one source
    /// compiled in several units) is kept once. Other kinds come from a newer macro crate
    /// and are left out.
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        match kind {
            "cache" => {
                let decl: TableCacheDecl = decode(value, origin, CELL_NAME, kind)?;
                if !self.tables.contains(&decl) {
                    self.tables.push(decl);
                    self.tables
                        .sort_by(|a, b| (&a.table, &a.namespace).cmp(&(&b.table, &b.namespace)));
                }
            }
            "memoize" => {
                let decl: MemoizeDecl = decode(value, origin, CELL_NAME, kind)?;
                if !self.functions.contains(&decl) {
                    self.functions.push(decl);
                    self.functions.sort_by(|a, b| {
                        (&a.function, &a.namespace).cmp(&(&b.function, &b.namespace))
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.functions.is_empty()
    }

    /// `redis: {tables, functions}`, left out when the code declares no cache.
    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.is_empty() {
            Vec::new()
        } else {
            vec![(CELL_NAME, self as &dyn erased_serde::Serialize)]
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::Manifest;
    use miette::Diagnostic as _;

    fn memo(f: &str) -> serde_json::Value {
        serde_json::json!({
            "function": f, "app": "a", "namespace": "cell:a:m:00", "ttl_secs": 60
        })
    }

    fn cache(table: &str, ns: &str) -> serde_json::Value {
        serde_json::json!({
            "table": table, "rust_name": "P", "app": "a", "namespace": ns,
            "ttl_secs": 3600, "keys": ["id"]
        })
    }

    #[test]
    fn items_are_recorded_once_and_sorted() {
        let mut s = RedisSection::default();
        assert!(s.is_empty());
        s.add("memoize", memo("a::z"), "a").unwrap();
        s.add("memoize", memo("a::b"), "a").unwrap();
        s.add("memoize", memo("a::z"), "a").unwrap();
        s.add("cache", cache("products", "cell:a:t:products:bb"), "a")
            .unwrap();
        s.add("cache", cache("orders", "cell:a:t:orders:aa"), "a")
            .unwrap();
        s.add("cache", cache("products", "cell:a:t:products:aa"), "a")
            .unwrap();
        s.add("cache", cache("orders", "cell:a:t:orders:aa"), "b")
            .unwrap();
        let names: Vec<_> = s.functions.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["a::b", "a::z"]);
        let tables: Vec<_> = s
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.namespace.as_str()))
            .collect();
        // Two shapes of one table (two crates) are both kept, by namespace.
        assert_eq!(
            tables,
            [
                ("orders", "cell:a:t:orders:aa"),
                ("products", "cell:a:t:products:aa"),
                ("products", "cell:a:t:products:bb"),
            ]
        );
        assert!(!s.is_empty());
    }

    #[test]
    fn unknown_kinds_are_left_out_and_bad_items_name_their_origin() {
        let mut s = RedisSection::default();
        s.add("newer", serde_json::json!({"x": 1}), "a").unwrap();
        assert!(s.is_empty());
        let e = s
            .add("memoize", serde_json::json!({"function": 1}), "shop")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read the recorded attributes in shop: redis.memoize"
        );
        assert_eq!(e.code().unwrap().to_string(), "cell::manifest::read");
    }

    #[test]
    fn the_manifest_key_is_left_out_when_empty_and_reads_back() {
        let cells: [&dyn cell_core::Cell; 1] = [&crate::RedisCell];
        let empty = Manifest::new(cells);
        assert_eq!(String::from_utf8(empty.to_bytes()).unwrap(), "{}\n");

        let mut m = Manifest::new(cells);
        m.add(
            cell_core::manifest::Fragment {
                cell: "redis".into(),
                kind: "memoize".into(),
                value: memo("a::f"),
            },
            "a",
        )
        .unwrap();
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{
  "redis": {
    "tables": [],
    "functions": [
      {
        "function": "a::f",
        "app": "a",
        "namespace": "cell:a:m:00",
        "ttl_secs": 60
      }
    ]
  }
}
"#
        );
        assert_eq!(m.summary(), "no Cell attributes");
        let back = Manifest::from_slice(text.as_bytes(), cells).unwrap();
        let section = back.section::<RedisSection>("redis").unwrap();
        assert_eq!(section.functions.len(), 1);
        let none = Manifest::from_slice(b"{\"postgres\": []}", cells).unwrap();
        assert!(none.section::<RedisSection>("redis").unwrap().is_empty());
    }
}

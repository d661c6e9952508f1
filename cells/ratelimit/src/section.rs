//! The RateLimit Cell's part of the manifest: the `ratelimit` key of `manifest.json`,
//! left out when the code declares no limit (so such a workspace's manifest is as before).

use std::any::Any;

use cell_core::cell::{decode, insert_sorted};
use cell_core::{CellError, Section};
use serde::{Deserialize, Serialize};

use crate::CELL_NAME;
use crate::declare::LimitDecl;
use crate::error::RateLimitCellError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitSection {
    /// Sorted by name, each once.
    pub limits: Vec<LimitDecl>,
}

impl RateLimitSection {
    pub fn read(
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<RateLimitSection, serde_json::Error> {
        match manifest.get(CELL_NAME) {
            Some(value) => RateLimitSection::deserialize(value),
            None => Ok(RateLimitSection::default()),
        }
    }
}

impl Section for RateLimitSection {
    /// `limit`; the same declaration twice (one source compiled in several units) is kept
    /// once; two different limits under one name are a conflict. Other kinds are left out.
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        if kind != "limit" {
            return Ok(());
        }
        let decl: LimitDecl = decode(value, origin, CELL_NAME, kind)?;
        insert_sorted(&mut self.limits, decl, LimitDecl::name, |was, now| {
            RateLimitCellError::Conflict {
                name: now.name(),
                was: was.describe(),
                now: now.describe(),
            }
            .into()
        })
    }

    fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.is_empty() {
            Vec::new()
        } else {
            vec![(CELL_NAME, self as &dyn erased_serde::Serialize)]
        }
    }

    fn summary(&self) -> Option<String> {
        let n = self.limits.len();
        (n > 0).then(|| format!("{n} rate limit{}", if n == 1 { "" } else { "s" }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::Manifest;

    fn limit(f: &str, n: u64) -> serde_json::Value {
        serde_json::json!({"function": f, "scope": "user", "limit": n, "per_secs": 60, "burst": n, "fail": "open"})
    }

    #[test]
    fn recorded_once_sorted_and_left_out_when_empty() {
        let cells: [&dyn cell_core::Cell; 1] = [&crate::RateLimitCell];
        let empty = Manifest::new(cells);
        assert_eq!(String::from_utf8(empty.to_bytes()).unwrap(), "{}\n");

        let mut s = RateLimitSection::default();
        s.add("limit", limit("a::z", 1), "a").unwrap();
        s.add("limit", limit("a::b", 1), "a").unwrap();
        s.add("limit", limit("a::z", 1), "b").unwrap();
        s.add("newer", serde_json::json!({}), "a").unwrap();
        let names: Vec<_> = s.limits.iter().map(LimitDecl::name).collect();
        assert_eq!(names, ["a::b/per_user", "a::z/per_user"]);
        assert_eq!(s.summary().unwrap(), "2 rate limits");

        let mut m = Manifest::new(cells);
        m.add(
            cell_core::manifest::Fragment {
                cell: "ratelimit".into(),
                kind: "limit".into(),
                value: limit("a::f", 5),
            },
            "a",
        )
        .unwrap();
        let text = String::from_utf8(m.to_bytes()).unwrap();
        let back = Manifest::from_slice(text.as_bytes(), cells).unwrap();
        assert_eq!(
            back.section::<RateLimitSection>("ratelimit")
                .unwrap()
                .limits
                .len(),
            1
        );
        assert!(
            s.add("limit", serde_json::json!({"function": 1}), "shop")
                .is_err()
        );
        let e = s.add("limit", limit("a::z", 2), "a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a::z/per_user is declared twice with different limits: 1 per 1m, burst 1, fail open and 2 per 1m, burst 2, fail open"
        );
    }
}

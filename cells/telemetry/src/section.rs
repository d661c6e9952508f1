//! The Telemetry Cell's section of the manifest: the `#[Telemetry::...]` functions (key
//! `telemetry`, left out when empty), sorted by function path, each declaration once.

use std::any::Any;

use cell_core::cell::decode;
use cell_core::{CellError, Section};

use crate::declare::FnDecl;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetrySection {
    /// Sorted by function path; each declaration once.
    pub functions: Vec<FnDecl>,
}

/// The manifest's key for the section.
pub const KEY: &str = "telemetry";

impl TelemetrySection {
    /// Adds one function's declaration. The same source compiled in several units (lib, its
    /// tests) records it again: kept once. Two different declarations of one path are both
    /// kept, the later after the earlier (the lock tells their metrics apart, or refuses
    /// them as a conflict).
    pub fn add_fn(&mut self, decl: FnDecl) {
        if !self.functions.contains(&decl) {
            let at = self
                .functions
                .partition_point(|d| d.function <= decl.function);
            self.functions.insert(at, decl);
        }
    }
}

impl Section for TelemetrySection {
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        if kind == "fn" {
            self.add_fn(decode(value, origin, crate::CELL_NAME, kind)?);
        }
        // Another kind comes from a newer macro crate.
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.functions.is_empty() {
            Vec::new()
        } else {
            vec![(KEY, &self.functions)]
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The section of a manifest read from a file (no `telemetry` key: none).
pub fn read(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<TelemetrySection, serde_json::Error> {
    Ok(TelemetrySection {
        functions: match map.get(KEY) {
            Some(v) => serde_json::from_value(v.clone())?,
            None => Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(function: &str, counter: &str) -> serde_json::Value {
        serde_json::json!({
            "function": function,
            "metrics": [{"name": counter, "type": "counter", "labels": []}],
        })
    }

    #[test]
    fn functions_are_recorded_once_and_sorted_by_path() {
        let mut s = TelemetrySection::default();
        assert!(s.is_empty());
        s.add("fn", fragment("shop::z", "z_total"), "shop").unwrap();
        s.add("fn", fragment("shop::a", "a_total"), "shop").unwrap();
        s.add("fn", fragment("shop::z", "z_total"), "shop").unwrap();
        let paths: Vec<_> = s.functions.iter().map(|d| d.function.as_str()).collect();
        assert_eq!(paths, ["shop::a", "shop::z"]);
        assert!(!s.is_empty());
        assert_eq!(
            s.summary(),
            None,
            "the record step's message says nothing of it"
        );
    }

    #[test]
    fn two_declarations_of_one_path_are_both_kept_in_order() {
        let mut s = TelemetrySection::default();
        s.add_fn(serde_json::from_value(fragment("shop::f", "b_total")).unwrap());
        s.add_fn(serde_json::from_value(fragment("shop::a", "x_total")).unwrap());
        s.add_fn(serde_json::from_value(fragment("shop::f", "a_total")).unwrap());
        let names: Vec<_> = s
            .functions
            .iter()
            .map(|d| d.metrics[0].name.as_str())
            .collect();
        assert_eq!(names, ["x_total", "b_total", "a_total"]);
    }

    #[test]
    fn other_kinds_are_left_out_and_bad_fragments_name_their_origin() {
        let mut s = TelemetrySection::default();
        s.add("gauge", serde_json::json!({}), "shop").unwrap();
        assert!(s.is_empty());
        let err = s
            .add("fn", serde_json::json!({"function": 3}), "shop")
            .unwrap_err();
        assert!(err.to_string().contains("shop: telemetry.fn"), "{err}");
    }

    #[test]
    fn the_key_is_left_out_when_empty_and_reads_back() {
        assert!(TelemetrySection::default().entries().is_empty());
        let mut s = TelemetrySection::default();
        s.add("fn", fragment("shop::pay", "pays_total"), "shop")
            .unwrap();
        let entries = s.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "telemetry");
        let json = serde_json::to_value(&s.functions).unwrap();
        let map: serde_json::Map<_, _> = [("telemetry".to_string(), json.clone())]
            .into_iter()
            .collect();
        assert_eq!(read(&map).unwrap(), s);
        assert_eq!(
            read(&serde_json::Map::new()).unwrap(),
            TelemetrySection::default()
        );
        // The bytes of the old manifest's `telemetry` key (the declarations' field order).
        assert_eq!(
            serde_json::to_string(&s.functions).unwrap(),
            r#"[{"function":"shop::pay","metrics":[{"name":"pays_total","type":"counter","labels":[]}]}]"#
        );
    }
}

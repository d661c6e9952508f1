//! The Kv Cell's part of the manifest: the `kv` key of `manifest.json`, the recorded entries
//! sorted by key, each once.

use std::any::Any;

use cell_core::cell::{decode, insert_sorted};
use cell_core::{CellError, Section};
use serde::{Deserialize, Serialize};

use crate::CELL_NAME;
use crate::declare::EntryDecl;
use crate::error::KvError;

/// The fragment kind `#[Kv::entry]` records (`kv.entry.<key>.json`).
pub const ENTRY_KIND: &str = "entry";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvSection {
    /// Sorted by key, each key once.
    pub entries: Vec<EntryDecl>,
}

impl KvSection {
    /// The section of a manifest read from a file: its `kv` key (none: empty).
    pub fn read(
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<KvSection, serde_json::Error> {
        match manifest.get(CELL_NAME) {
            Some(value) => KvSection::deserialize(value),
            None => Ok(KvSection::default()),
        }
    }
}

impl Section for KvSection {
    /// `entry`: the same declaration twice (one source compiled in several units) is kept
    /// once; one key with two values is a conflict. Other kinds come from a newer macro
    /// crate and are left out.
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        if kind != ENTRY_KIND {
            return Ok(());
        }
        let decl: EntryDecl = decode(value, origin, CELL_NAME, kind)?;
        insert_sorted(
            &mut self.entries,
            decl,
            |d| d.key.clone(),
            |first, second| {
                KvError::Conflict {
                    key: second.key,
                    first: first.value.clone(),
                    second: second.value,
                    origin: origin.to_string(),
                }
                .into()
            },
        )
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `kv: {entries}`, left out when the code declares no key.
    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.is_empty() {
            Vec::new()
        } else {
            vec![(CELL_NAME, self as &dyn erased_serde::Serialize)]
        }
    }

    fn summary(&self) -> Option<String> {
        match self.entries.len() {
            0 => None,
            1 => Some("1 Kv key".into()),
            n => Some(format!("{n} Kv keys")),
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
    use cell_core::manifest::Fragment;
    use miette::Diagnostic as _;

    fn entry(key: &str, value: &str) -> serde_json::Value {
        serde_json::json!({"key": key, "value": value})
    }

    #[test]
    fn entries_are_sorted_each_once_and_conflicts_refused() {
        let mut s = KvSection::default();
        assert!(s.is_empty() && s.summary().is_none());
        s.add("entry", entry("b", "2"), "app").unwrap();
        s.add("entry", entry("a", "1"), "app").unwrap();
        s.add("entry", entry("b", "2"), "other").unwrap();
        s.add("newer", serde_json::json!({"x": 1}), "app").unwrap();
        assert_eq!(
            s.entries,
            [EntryDecl::new("a", "1"), EntryDecl::new("b", "2")]
        );
        assert_eq!(s.summary().as_deref(), Some("2 Kv keys"));

        let e = s.add("entry", entry("a", "9"), "app").unwrap_err();
        assert_eq!(e.code().unwrap().to_string(), "cell::kv::conflict");
        assert_eq!(
            e.to_string(),
            "the key `a` is declared twice, as \"1\" and as \"9\" (in app)"
        );
        let e = s
            .add("entry", serde_json::json!({"key": 1}), "app")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read the recorded attributes in app: kv.entry"
        );
    }

    #[test]
    fn the_manifest_key_is_left_out_when_empty_and_reads_back() {
        let cells: [&dyn cell_core::Cell; 1] = [&crate::KvCell];
        assert_eq!(Manifest::new(cells).to_bytes(), b"{}\n");
        let mut m = Manifest::new(cells);
        m.add(
            Fragment {
                cell: "kv".into(),
                kind: "entry".into(),
                value: entry("greeting", "hello"),
            },
            "kv-app",
        )
        .unwrap();
        assert!(m.declares("kv"));
        assert_eq!(m.summary(), "1 Kv key");
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            text,
            "{\n  \"kv\": {\n    \"entries\": [\n      {\n        \"key\": \"greeting\",\n        \"value\": \"hello\"\n      }\n    ]\n  }\n}\n"
        );
        let back = Manifest::from_slice(text.as_bytes(), cells).unwrap();
        assert_eq!(
            back.section::<KvSection>("kv").unwrap().entries,
            [EntryDecl::new("greeting", "hello")]
        );
    }
}

//! The Audit Cell's part of the manifest: the `audit` key of `manifest.json`,
//! left out when the code declares no audit (so such a workspace's manifest is as before).

use std::any::Any;

use cell_core::cell::{decode, insert_sorted};
use cell_core::{CellError, Section};
use serde::{Deserialize, Serialize};

use crate::CELL_NAME;
use crate::declare::AuditDecl;
use crate::error::AuditCellError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSection {
    /// Sorted by name, each once.
    pub audits: Vec<AuditDecl>,
}

impl AuditSection {
    pub fn read(
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<AuditSection, serde_json::Error> {
        match manifest.get(CELL_NAME) {
            Some(value) => AuditSection::deserialize(value),
            None => Ok(AuditSection::default()),
        }
    }
}

impl Section for AuditSection {
    /// `audit`; the same declaration twice (one source compiled in several units) is kept
    /// once; two different audits of one function are a conflict. Other kinds are left out.
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        if kind != "audit" {
            return Ok(());
        }
        let decl: AuditDecl = decode(value, origin, CELL_NAME, kind)?;
        insert_sorted(&mut self.audits, decl, AuditDecl::name, |was, now| {
            AuditCellError::Conflict {
                name: now.name(),
                was: was.describe(),
                now: now.describe(),
            }
            .into()
        })
    }

    fn is_empty(&self) -> bool {
        self.audits.is_empty()
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.is_empty() {
            Vec::new()
        } else {
            vec![(CELL_NAME, self as &dyn erased_serde::Serialize)]
        }
    }

    fn summary(&self) -> Option<String> {
        let n = self.audits.len();
        (n > 0).then(|| format!("{n} audited function{}", if n == 1 { "" } else { "s" }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_core::Manifest;

    fn audit(f: &str, event: &str) -> serde_json::Value {
        serde_json::json!({"function": f, "event": event, "args": ["id"], "retention": "7y"})
    }

    #[test]
    fn recorded_once_sorted_and_left_out_when_empty() {
        let cells: [&dyn cell_core::Cell; 1] = [&crate::AuditCell];
        assert_eq!(
            String::from_utf8(Manifest::new(cells).to_bytes()).unwrap(),
            "{}\n"
        );
        let mut s = AuditSection::default();
        s.add("audit", audit("a::z", "z"), "a").unwrap();
        s.add("audit", audit("a::b", "b"), "a").unwrap();
        s.add("audit", audit("a::z", "z"), "b").unwrap();
        s.add("newer", serde_json::json!({}), "a").unwrap();
        let names: Vec<_> = s.audits.iter().map(AuditDecl::name).collect();
        assert_eq!(names, ["a::b", "a::z"]);
        assert_eq!(s.summary().unwrap(), "2 audited functions");
        let e = s.add("audit", audit("a::z", "other"), "a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a::z is declared twice with different audits: event z, args id, kept 7y and event other, args id, kept 7y"
        );
    }
}

//! The Auth Cell's part of the manifest: the guarded functions (`#[Auth::require]`,
//! `#[Auth::protected]`) recorded from the code, sorted by path, each once.

use std::any::Any;

use cell_core::cell::{decode, insert_sorted};
use cell_core::{CellError, Section};

use crate::CELL_NAME;
use crate::error::AuthCellError;
use crate::rule::GuardDecl;

/// The manifest's key for the guards (`"auth": [...]`, left out when there are none).
pub const KEY: &str = "auth";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSection {
    /// Sorted by path; each once.
    pub guards: Vec<GuardDecl>,
}

impl AuthSection {
    /// The section of a manifest read from a file: its `auth` key (missing: no guards).
    pub fn from_manifest(
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<AuthSection, serde_json::Error> {
        let guards = match manifest.get(KEY) {
            Some(value) => serde_json::from_value(value.clone())?,
            None => Vec::new(),
        };
        Ok(AuthSection { guards })
    }
}

/// Adds a recorded guard to the list (sorted by path, each once). One source compiled in
/// several units (lib, its tests) records the same guard twice: one guard. Two different
/// guards of one path are an error.
pub fn add_guard(
    guards: &mut Vec<GuardDecl>,
    decl: GuardDecl,
    origin: &str,
) -> Result<(), CellError> {
    insert_sorted(
        guards,
        decl,
        |g| g.path.clone(),
        |first, decl| {
            AuthCellError::ConflictingGuards {
                path: decl.path.clone(),
                first: first.rule.describe(),
                second: format!("{} (in {origin})", decl.rule.describe()),
            }
            .into()
        },
    )
}

impl Section for AuthSection {
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError> {
        match kind {
            "guard" => {
                let decl: GuardDecl = decode(value, origin, CELL_NAME, kind)?;
                add_guard(&mut self.guards, decl, origin)
            }
            // A kind this cargo-cell does not know comes from a newer macro crate.
            _ => Ok(()),
        }
    }

    fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.guards.is_empty() {
            Vec::new()
        } else {
            vec![(KEY, &self.guards as &dyn erased_serde::Serialize)]
        }
    }

    /// `1 guarded function`, `3 guarded functions`; nothing without guards.
    fn summary(&self) -> Option<String> {
        match self.guards.len() {
            0 => None,
            1 => Some("1 guarded function".to_string()),
            n => Some(format!("{n} guarded functions")),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;

    fn g(p: &str, r: Rule) -> GuardDecl {
        GuardDecl {
            path: p.into(),
            rule: r,
        }
    }

    #[test]
    fn guards_are_merged_by_path() {
        let mut guards = Vec::new();
        add_guard(&mut guards, g("app::b", Rule::Protected), "app").unwrap();
        add_guard(&mut guards, g("app::a", Rule::any(["admin"])), "app").unwrap();
        add_guard(&mut guards, g("app::a", Rule::any(["admin"])), "app").unwrap();
        assert_eq!(
            guards.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
            ["app::a", "app::b"]
        );
        let err = add_guard(&mut guards, g("app::a", Rule::Protected), "app").unwrap_err();
        assert!(err.to_string().contains("guarded twice"), "{err}");
    }

    #[test]
    fn a_conflict_names_both_rules_and_the_second_crate() {
        let mut guards = vec![g("app::a", Rule::any(["admin"]))];
        let err = add_guard(&mut guards, g("app::a", Rule::Protected), "other").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`app::a` is guarded twice, differently: role admin and any authenticated caller (in other)"
        );
        use miette::Diagnostic as _;
        assert_eq!(err.code().unwrap().to_string(), "cell::auth::conflict");
    }

    #[test]
    fn recorded_guards_are_added_and_other_kinds_ignored() {
        let mut s = AuthSection::default();
        let value = |p: &str| serde_json::to_value(g(p, Rule::Protected)).unwrap();
        s.add("guard", value("app::z"), "app").unwrap();
        s.add("guard", value("app::b"), "app").unwrap();
        s.add("guard", value("app::z"), "app").unwrap();
        s.add("something-newer", serde_json::json!({}), "app")
            .unwrap();
        assert_eq!(
            s.guards.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
            ["app::b", "app::z"]
        );
        let err = s
            .add("guard", serde_json::json!({"path": 1}), "app")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the recorded attributes in app: auth.guard"
        );
    }

    #[test]
    fn summary_counts_guarded_functions() {
        let mut s = AuthSection::default();
        assert_eq!(s.summary(), None);
        assert!(s.is_empty());
        s.guards.push(g("app::a", Rule::Protected));
        assert_eq!(s.summary().as_deref(), Some("1 guarded function"));
        s.guards.push(g("app::b", Rule::Protected));
        assert_eq!(s.summary().as_deref(), Some("2 guarded functions"));
    }

    #[test]
    fn entries_leave_out_an_empty_list_and_read_back() {
        let mut s = AuthSection::default();
        assert!(s.entries().is_empty());
        s.guards.push(g("app::a", Rule::any(["admin"])));
        let entries = s.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "auth");
        let mut object = serde_json::Map::new();
        object.insert("auth".into(), serde_json::to_value(&s.guards).unwrap());
        assert_eq!(AuthSection::from_manifest(&object).unwrap(), s);
        assert_eq!(
            AuthSection::from_manifest(&serde_json::Map::new()).unwrap(),
            AuthSection::default()
        );
    }
}

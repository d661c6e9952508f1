//! [`AuthCell`]: what the Auth Cell tells cargo-cell without any live service: its name, lock
//! and endpoint variable, its section of the manifest, and `cargo cell check` (the guards
//! against `.cell/auth.lock.json`). The live side is in `live_cell` (feature `live`).

use std::path::{Path, PathBuf};

use cell_core::lockfile::LockFile as _;
use cell_core::{Cell, CellError, Checked, LockState, Manifest, Section, Workspace};

use crate::error::AuthCellError;
use crate::lock::Lock;
use crate::plan::{self, AuthPlan, Plan};
use crate::rule::GuardDecl;
use crate::section::AuthSection;
use crate::{CELL_NAME, LOCK_FILE};

/// The variable `cargo cell run` / `test` put the token service's URL in.
pub const URL_ENV: &str = "CELL_AUTH_URL";

/// The Auth Cell: guards in the code, the permission lock, the dev token service.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthCell;

impl AuthCell {
    /// The guards the manifest records (none when it has no Auth section).
    pub fn guards(manifest: &Manifest) -> &[GuardDecl] {
        manifest
            .section::<AuthSection>(CELL_NAME)
            .map(|s| s.guards.as_slice())
            .unwrap_or(&[])
    }
}

/// `.cell/auth.lock.json`.
pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.lock_path(LOCK_FILE)
}

/// The permission changes the code asks for, against the committed lock.
pub fn plan(ws: &Workspace, guards: &[GuardDecl]) -> Result<Plan, AuthCellError> {
    let lock = Lock::read(&lock_path(ws))?;
    Ok(plan::diff(lock.as_ref(), guards))
}

/// The plan `cargo cell plan` shows; `None` when the workspace neither declares a guard nor
/// has a lock.
pub fn cell_plan(ws: &Workspace, guards: &[GuardDecl]) -> Result<Option<AuthPlan>, AuthCellError> {
    if guards.is_empty() && !lock_path(ws).exists() {
        return Ok(None);
    }
    Ok(Some(AuthPlan {
        plan: plan(ws, guards)?,
        declared: !guards.is_empty(),
    }))
}

/// Whether `[workspace.metadata.cell.auth] issuer` names a real issuer: then no dev token
/// service runs.
pub fn external_issuer(ws: &Workspace) -> Option<String> {
    ws.cell_setting(CELL_NAME, "issuer")
}

impl Cell for AuthCell {
    fn name(&self) -> &'static str {
        CELL_NAME
    }

    fn lock_file(&self) -> &'static str {
        LOCK_FILE
    }

    fn url_env(&self) -> &'static str {
        URL_ENV
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(AuthSection::default())
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        Ok(Box::new(AuthSection::from_manifest(manifest)?))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.guards.len(), "guards"))
    }

    /// One problem when the guards differ from the lock; the Auth Cell prints no line when
    /// they agree.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let plan = plan(ws, AuthCell::guards(manifest))?;
        let mut checked = Checked::default();
        if !plan.is_empty() {
            checked.problems.push(format!(
                "permissions differ from .cell/auth.lock.json: {}",
                plan.summary()
            ));
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;
    use cell_core::CellPlan as _;

    fn g(path: &str, rule: Rule) -> GuardDecl {
        GuardDecl {
            path: path.into(),
            rule,
        }
    }

    fn manifest_with(guards: &[GuardDecl]) -> Manifest {
        let cells: [&dyn Cell; 1] = [&AuthCell];
        let mut m = Manifest::new(cells);
        for decl in guards {
            let fragment = cell_core::manifest::Fragment {
                cell: "auth".into(),
                kind: "guard".into(),
                value: serde_json::to_value(decl).unwrap(),
            };
            m.add(fragment, "app").unwrap();
        }
        m
    }

    fn write_lock(ws: &Workspace, guards: &[GuardDecl]) {
        std::fs::create_dir_all(ws.cell_dir()).unwrap();
        std::fs::write(lock_path(ws), Lock::from_guards(guards).unwrap().to_bytes()).unwrap();
    }

    #[test]
    fn the_manifest_has_the_auth_key_and_the_summary() {
        let m = manifest_with(&[
            g("app::b", Rule::Protected),
            g("app::a", Rule::any(["admin"])),
        ]);
        assert_eq!(m.summary(), "2 guarded functions");
        assert!(m.declares("auth"));
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            text,
            "{\n  \"auth\": [\n    {\n      \"path\": \"app::a\",\n      \"rule\": {\n        \"kind\": \"any\",\n        \"roles\": [\n          \"admin\"\n        ]\n      }\n    },\n    {\n      \"path\": \"app::b\",\n      \"rule\": {\n        \"kind\": \"protected\"\n      }\n    }\n  ]\n}\n"
        );
        let cells: [&dyn Cell; 1] = [&AuthCell];
        let back = Manifest::from_slice(text.as_bytes(), cells).unwrap();
        assert_eq!(AuthCell::guards(&back), AuthCell::guards(&m));
        let empty = Manifest::new(cells);
        assert_eq!(empty.to_bytes(), b"{}\n");
        assert_eq!(empty.summary(), "no Cell attributes");
    }

    #[test]
    fn no_plan_without_guards_or_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        assert_eq!(cell_plan(&ws, &[]).unwrap(), None);
        let plan = cell_plan(&ws, &[g("app::a", Rule::Protected)])
            .unwrap()
            .unwrap();
        assert!(plan.declared && !plan.is_empty());
        // A lock with no guards and none in the code: "No changes", but no JSON entry.
        write_lock(&ws, &[]);
        let plan = cell_plan(&ws, &[]).unwrap().unwrap();
        assert!(plan.is_empty());
        assert_eq!(plan.to_json(), None);
    }

    #[test]
    fn check_reports_a_difference_from_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let guards = [g("app::a", Rule::any(["admin"]))];
        let m = manifest_with(&guards);
        let checked = AuthCell.check_offline(&ws, &m).unwrap();
        assert_eq!(
            checked.problems,
            ["permissions differ from .cell/auth.lock.json: 1 permission change"]
        );
        assert_eq!(checked.agreed, None);
        write_lock(&ws, &guards);
        let checked = AuthCell.check_offline(&ws, &m).unwrap();
        assert!(checked.problems.is_empty());
        assert_eq!(
            AuthCell.lock_state(&lock_path(&ws)).to_string(),
            "locked (1 guard)"
        );
    }

    #[test]
    fn an_unreadable_lock_is_the_auth_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        std::fs::create_dir_all(ws.cell_dir()).unwrap();
        std::fs::write(lock_path(&ws), b"{not json").unwrap();
        let err = AuthCell
            .check_offline(&ws, &manifest_with(&[]))
            .unwrap_err();
        use miette::Diagnostic as _;
        assert_eq!(err.code().unwrap().to_string(), "cell::auth::lock");
        assert_eq!(AuthCell.lock_state(&lock_path(&ws)), LockState::Invalid);
        assert_eq!(
            AuthCell.lock_state(&dir.path().join("none.json")),
            LockState::Absent
        );
    }
}

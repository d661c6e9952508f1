//! The [`Cell`] trait: what every Cell tells cargo-cell without any live service. Its name,
//! lock file, endpoint variable, its section of the manifest (with the rule that merges
//! recorded items into it), and `cargo cell check` (the code against the lock). The live
//! side (containers, plan, apply) is [`crate::live::LiveCell`], behind the `live` feature.

use std::any::Any;
use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;

use crate::error::CellError;
use crate::lockfile::{LockError, LockFile};
use crate::manifest::Manifest;
use crate::workspace::Workspace;

pub trait Cell: Send + Sync + 'static {
    /// Its name on the command line, in labels, fragments and file names: `postgres`.
    fn name(&self) -> &'static str;

    /// Its lock under `.cell/`: `postgres.lock.json`.
    fn lock_file(&self) -> &'static str;

    /// The variable `run` and `test` put its main endpoint in (`CELL_POSTGRES_URL`).
    fn url_env(&self) -> &'static str;

    /// An empty section of the manifest, ready for [`Section::add`].
    fn new_section(&self) -> Box<dyn Section>;

    /// Its section of a manifest read from a file (its keys of the top-level object).
    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error>;

    /// What its lock at `path` holds, for `status`.
    fn lock_state(&self, path: &Path) -> LockState;

    /// `cargo cell check`: the recorded code against the committed lock, with no live Cell.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError>;

    /// `text` with secrets (passwords in URLs) hidden, for anything printed.
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }

    /// How many recorded items wait for this Cell's apply before they expand (checked
    /// queries not described yet, or refused last time): while any do, `cargo cell build`
    /// applies even when nothing else changed, and records again after.
    fn waiting(&self, _ws: &Workspace, _manifest: &Manifest) -> usize {
        0
    }
}

/// What `cargo cell check` found for one Cell.
#[derive(Debug, Default)]
pub struct Checked {
    /// One line a disagreement; empty when code and lock agree.
    pub problems: Vec<String>,
    /// The line printed when they agree (`postgres: code and lock agree (2 tables)`); `None`
    /// for a Cell the workspace does not use.
    pub agreed: Option<String>,
}

/// One Cell's part of the manifest: the declarations recorded from the code.
pub trait Section: Any + Debug + Send + Sync {
    /// Adds one recorded item (`kind` as the fragment names it), merging duplicates (one
    /// source compiled in several units); declarations that conflict are an error.
    fn add(&mut self, kind: &str, value: serde_json::Value, origin: &str) -> Result<(), CellError>;

    /// Whether the code declares nothing of this Cell.
    fn is_empty(&self) -> bool;

    /// Its top-level keys of `manifest.json`, in order, with their values (a key may be left
    /// out when empty).
    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)>;

    /// For the record step's message: `2 Postgres tables`; `None` says nothing.
    fn summary(&self) -> Option<String> {
        None
    }

    fn as_any(&self) -> &dyn Any;
}

/// Adds `decl` to a list kept sorted by `key`, once; a different declaration under the same
/// key is `conflict(existing)`.
pub fn insert_sorted<T: PartialEq, K: Ord>(
    list: &mut Vec<T>,
    decl: T,
    key: impl Fn(&T) -> K,
    conflict: impl FnOnce(&T, T) -> CellError,
) -> Result<(), CellError> {
    match list.binary_search_by(|d| key(d).cmp(&key(&decl))) {
        Ok(i) if list[i] == decl => Ok(()),
        Ok(i) => Err(conflict(&list[i], decl)),
        Err(i) => {
            list.insert(i, decl);
            Ok(())
        }
    }
}

/// Deserialises one recorded item, saying which crate and kind it came from on failure.
pub fn decode<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    origin: &str,
    cell: &str,
    kind: &str,
) -> Result<T, CellError> {
    serde_json::from_value(value).map_err(|e| {
        crate::error::CoreError::Fragment {
            path: format!("{origin}: {cell}.{kind}"),
            source: Box::new(e),
        }
        .into()
    })
}

/// What a Cell's lock file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum LockState {
    Absent,
    /// `count` of what the Cell locks (`unit`: tables, guards, metrics).
    Present {
        count: usize,
        unit: &'static str,
    },
    TooNew,
    Invalid,
}

impl LockState {
    pub fn present(count: usize, unit: &'static str) -> LockState {
        LockState::Present { count, unit }
    }

    /// The state of the lock of type `L` at `path`, with what it counts (`(3, "tables")`).
    pub fn of<L: LockFile>(path: &Path, count: impl Fn(&L) -> (usize, &'static str)) -> LockState {
        match L::read(path) {
            Ok(None) => LockState::Absent,
            Ok(Some(lock)) => {
                let (n, unit) = count(&lock);
                LockState::present(n, unit)
            }
            Err(LockError::TooNew { .. }) => LockState::TooNew,
            Err(_) => LockState::Invalid,
        }
    }
}

impl std::fmt::Display for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockState::Absent => f.write_str("no lock yet"),
            LockState::Present { count: 1, unit } => {
                write!(f, "locked (1 {})", unit.strip_suffix('s').unwrap_or(unit))
            }
            LockState::Present { count, unit } => write!(f, "locked ({count} {unit})"),
            LockState::TooNew => f.write_str("lock from a newer cargo-cell"),
            LockState::Invalid => f.write_str("lock unreadable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_state_counts_in_words() {
        assert_eq!(
            LockState::present(1, "tables").to_string(),
            "locked (1 table)"
        );
        assert_eq!(
            LockState::present(3, "guards").to_string(),
            "locked (3 guards)"
        );
        assert_eq!(
            LockState::present(0, "metrics").to_string(),
            "locked (0 metrics)"
        );
    }

    #[test]
    fn lock_state_serialises_with_a_state_tag() {
        assert_eq!(
            serde_json::to_value(LockState::present(3, "guards")).unwrap(),
            serde_json::json!({"state": "present", "count": 3, "unit": "guards"})
        );
        assert_eq!(
            serde_json::to_value(LockState::TooNew).unwrap(),
            serde_json::json!({"state": "too-new"})
        );
    }

    #[test]
    fn insert_sorted_merges_equal_and_refuses_different() {
        let mut list = vec![];
        let conflict = |_: &(u8, u8), _| {
            CellError::new(crate::error::CoreError::Write {
                path: "x".into(),
                source: std::io::Error::other("conflict"),
            })
        };
        insert_sorted(&mut list, (2, 0), |d| d.0, conflict).unwrap();
        insert_sorted(&mut list, (1, 0), |d| d.0, conflict).unwrap();
        insert_sorted(&mut list, (2, 0), |d| d.0, conflict).unwrap();
        assert_eq!(list, [(1, 0), (2, 0)]);
        assert!(insert_sorted(&mut list, (2, 1), |d| d.0, conflict).is_err());
    }
}

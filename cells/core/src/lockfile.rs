//! The lock files under `.cell/`, one per Cell, share one life cycle: a format version that a
//! newer tool may raise, stable bytes (so a review diff shows only real changes), and writes
//! that happen only when the bytes change (cargo tracks the files through `include_bytes!`,
//! so an unchanged rewrite would rebuild every crate that uses the Cell).
//!
//! Each Cell keeps its own lock type and implements [`LockFile`] for it; this crate does the
//! reading, the version check and the writing, once.

use std::io;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A Cell's lock type.
pub trait LockFile: Serialize + DeserializeOwned {
    /// The newest format version this build reads (and the one it writes).
    const VERSION: u32;
    /// The Cell's name, for messages: `Postgres`.
    const CELL: &'static str;

    /// Checks the parsed lock beyond its shape (a hand edit can break invariants serde does
    /// not see). The message says what is wrong.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// See [`to_bytes`].
    fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self)
    }

    /// See [`parse`].
    fn parse(bytes: &[u8], path: &Path) -> Result<Self, LockError> {
        parse(bytes, path)
    }

    /// See [`read`].
    fn read(path: &Path) -> Result<Option<Self>, LockError> {
        read(path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not a valid {cell} lock file: {source}")]
    Parse {
        path: String,
        cell: &'static str,
        source: serde_json::Error,
    },
    // "lock format version" is what the stub macros look for to tell an old tool from a bad
    // lock; keep the words.
    #[error(
        "{path} has lock format version {found}, but this cargo-cell understands up to {supported}"
    )]
    TooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("{path} is inconsistent: {why}")]
    Inconsistent { path: String, why: String },
}

/// Stable formatting: keys in the order the types give them (the maps are ordered), two-space
/// indent, a final newline.
pub fn to_bytes(lock: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(lock).expect("a lock serialises to JSON");
    bytes.push(b'\n');
    bytes
}

/// Parses a lock read from `path` (named in errors).
///
/// The version is read first, on its own: a lock written by a newer tool may have a shape this
/// one cannot parse, and the user must hear "update the tool", not "the file is broken".
pub fn parse<L: LockFile>(bytes: &[u8], path: &Path) -> Result<L, LockError> {
    #[derive(serde::Deserialize)]
    struct Header {
        version: u32,
    }
    let p = || path.display().to_string();
    let parse_error = |source| LockError::Parse {
        path: p(),
        cell: L::CELL,
        source,
    };
    let header: Header = serde_json::from_slice(bytes).map_err(parse_error)?;
    if header.version > L::VERSION {
        return Err(LockError::TooNew {
            path: p(),
            found: header.version,
            supported: L::VERSION,
        });
    }
    let lock: L = serde_json::from_slice(bytes).map_err(parse_error)?;
    lock.validate()
        .map_err(|why| LockError::Inconsistent { path: p(), why })?;
    Ok(lock)
}

/// The lock at `path`; `None` when the file does not exist.
pub fn read<L: LockFile>(path: &Path) -> Result<Option<L>, LockError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes, path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LockError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` unless it already holds exactly them; atomically (a temporary
/// file and a rename) so a concurrent reader, such as rustc expanding a macro, never sees half
/// a file. Creates the folder. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Toy {
        version: u32,
        items: BTreeMap<String, u32>,
    }

    impl LockFile for Toy {
        const VERSION: u32 = 2;
        const CELL: &'static str = "Toy";
        fn validate(&self) -> Result<(), String> {
            match self.items.get("bad") {
                Some(_) => Err("`bad` is not allowed".into()),
                None => Ok(()),
            }
        }
    }

    fn toy(items: &[(&str, u32)]) -> Toy {
        Toy {
            version: 2,
            items: items.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn bytes_are_stable_sorted_and_round_trip() {
        let lock = toy(&[("b", 2), ("a", 1)]);
        let bytes = to_bytes(&lock);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap());
        assert!(text.ends_with("}\n"));
        assert_eq!(parse::<Toy>(&bytes, Path::new("x")).unwrap(), lock);
    }

    #[test]
    fn a_newer_version_is_too_new_even_when_its_shape_changed() {
        let e =
            parse::<Toy>(br#"{"version": 3, "items": "a new shape"}"#, Path::new("l")).unwrap_err();
        assert!(
            matches!(
                e,
                LockError::TooNew {
                    found: 3,
                    supported: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("lock format version"), "{e}");
    }

    #[test]
    fn a_broken_file_names_the_cell_and_the_path() {
        let e = parse::<Toy>(b"{", Path::new(".cell/toy.lock.json")).unwrap_err();
        assert!(matches!(e, LockError::Parse { .. }));
        assert!(
            e.to_string()
                .starts_with(".cell/toy.lock.json is not a valid Toy lock file"),
            "{e}"
        );
    }

    #[test]
    fn validation_failures_are_inconsistent() {
        let bytes = to_bytes(&toy(&[("bad", 1)]));
        let e = parse::<Toy>(&bytes, Path::new("l")).unwrap_err();
        assert!(matches!(e, LockError::Inconsistent { .. }), "{e}");
    }

    #[test]
    fn reads_none_when_missing_and_writes_only_on_change() {
        let dir = std::env::temp_dir().join(format!("cell-lockfile-test-{}", std::process::id()));
        let path = dir.join("nested").join("toy.lock.json");
        assert!(read::<Toy>(&path).unwrap().is_none());
        let bytes = to_bytes(&toy(&[("a", 1)]));
        assert!(write_if_changed(&path, &bytes).unwrap());
        assert!(!write_if_changed(&path, &bytes).unwrap());
        assert_eq!(read::<Toy>(&path).unwrap(), Some(toy(&[("a", 1)])));
        assert!(write_if_changed(&path, b"{}").unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

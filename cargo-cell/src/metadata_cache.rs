//! `cargo metadata --no-deps` once per change of the workspace's manifests, not once per
//! command: on a no-op build it is a cargo process (tens of milliseconds) out of a budget of
//! a few.
//!
//! The cache lives in the workspace's git-ignored `.cell/state/`, so only workspaces that
//! already have Cells use it, and it is found by walking up from the manifest given or the
//! current folder, as cargo finds the workspace. It is used only when everything the answer
//! depends on is as it was: the current folder and `--manifest-path`, the cargo binary, the
//! environment cargo reads for it (`CARGO_*`), every `Cargo.toml` and cargo configuration
//! file from that folder up to `/`, every member's `Cargo.toml`, and the folders holding
//! members (a new crate matched by a `members = ["crates/*"]` glob changes its folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use cargo_metadata::{Metadata, MetadataCommand};
use serde::{Deserialize, Serialize};

use crate::toolchain::cargo;

const FILE: &str = "metadata.json";

#[derive(Serialize, Deserialize)]
struct Cached {
    key: Key,
    /// `(len, mtime ns)` of each file or folder; `None`: absent.
    inputs: BTreeMap<PathBuf, Option<(u64, u128)>>,
    json: String,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Key {
    cwd: PathBuf,
    manifest_path: Option<PathBuf>,
    cargo: PathBuf,
    env: Vec<(String, String)>,
}

fn key(manifest_path: Option<&Path>) -> Option<Key> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CARGO") || k.starts_with("RUSTUP"))
        .collect();
    env.sort();
    Some(Key {
        cwd: std::env::current_dir().ok()?,
        manifest_path: manifest_path.map(Path::to_path_buf),
        cargo: cargo(),
        env,
    })
}

fn stat(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

/// The folder cargo starts from: the manifest's, else the current one.
fn start(manifest_path: Option<&Path>) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    Some(match manifest_path {
        Some(p) => cwd.join(p).parent()?.to_path_buf(),
        None => cwd,
    })
}

/// The cache file: `.cell/state/metadata.json` in the nearest folder that has one.
fn cache_file(manifest_path: Option<&Path>) -> Option<PathBuf> {
    start(manifest_path)?
        .ancestors()
        .map(|d| d.join(".cell").join("state"))
        .find(|d| d.is_dir())
        .map(|d| d.join(FILE))
}

fn inputs(
    manifest_path: Option<&Path>,
    meta: &Metadata,
) -> Option<BTreeMap<PathBuf, Option<(u64, u128)>>> {
    let mut paths = Vec::new();
    for dir in start(manifest_path)?.ancestors() {
        for f in ["Cargo.toml", ".cargo/config.toml", ".cargo/config"] {
            paths.push(dir.join(f));
        }
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = home {
        paths.push(home.join("config.toml"));
        paths.push(home.join("config"));
    }
    for p in meta.workspace_packages() {
        let manifest: PathBuf = p.manifest_path.clone().into();
        if let Some(holder) = manifest.parent().and_then(Path::parent) {
            paths.push(holder.to_path_buf());
        }
        paths.push(manifest);
    }
    paths.push(meta.workspace_root.join("Cargo.toml").into());
    Some(
        paths
            .into_iter()
            .map(|p| {
                let s = stat(&p);
                (p, s)
            })
            .collect(),
    )
}

/// The cached metadata, if nothing it depends on changed.
pub fn load(manifest_path: Option<&Path>) -> Option<Metadata> {
    let file = cache_file(manifest_path)?;
    let cached: Cached = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    if cached.key != key(manifest_path)? {
        return None;
    }
    if cached.inputs.iter().any(|(p, s)| stat(p) != *s) {
        return None;
    }
    let meta = MetadataCommand::parse(&cached.json).ok()?;
    // The cache must belong to this workspace.
    file.starts_with(meta.workspace_root.as_std_path())
        .then_some(meta)
}

/// Remembers `json` (the output of `cargo metadata`) when the workspace has a
/// `.cell/state/` folder at its root. Failing to is not an error.
pub fn save(manifest_path: Option<&Path>, meta: &Metadata, json: &str) {
    let state = meta
        .workspace_root
        .as_std_path()
        .join(".cell")
        .join("state");
    if !state.is_dir() {
        return;
    }
    let (Some(key), Some(inputs)) = (key(manifest_path), inputs(manifest_path, meta)) else {
        return;
    };
    let cached = Cached {
        key,
        inputs,
        json: json.to_string(),
    };
    if let Ok(bytes) = serde_json::to_vec(&cached) {
        let _ = cell_core::lockfile::write_if_changed(&state.join(FILE), &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_sees_absent_and_changed_files() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("Cargo.toml");
        assert_eq!(stat(&f), None);
        std::fs::write(&f, "[workspace]").unwrap();
        let first = stat(&f);
        assert!(first.is_some());
        std::fs::write(&f, "[workspace]\nmembers = []").unwrap();
        assert_ne!(stat(&f), first);
    }
}

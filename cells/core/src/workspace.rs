//! The workspace a command works on: root, target directory, members, `[workspace.metadata.cell]`,
//! and the identity its containers are labelled with. cargo-cell fills it from `cargo metadata`;
//! Cells read their settings and paths from it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub manifest_path: PathBuf,
    /// Workspace member package names.
    pub members: Vec<String>,
    /// Their package ids, as cargo's JSON messages name them.
    pub member_ids: std::collections::HashSet<String>,
    pub id: WorkspaceId,
    /// `[workspace.metadata.cell]` (null when absent).
    pub config: serde_json::Value,
}

impl Workspace {
    /// `.cell/`: the committed locks, and the git-ignored `state/`.
    pub fn cell_dir(&self) -> PathBuf {
        self.root.join(".cell")
    }

    /// `.cell/<file>`: where a Cell's lock lives.
    pub fn lock_path(&self, file: &str) -> PathBuf {
        self.cell_dir().join(file)
    }

    /// Where cargo-cell keeps its own build products (record target dir, manifest).
    pub fn work_dir(&self) -> PathBuf {
        self.target_dir.join("cell")
    }

    /// A setting of one Cell: `[workspace.metadata.cell.<cell>] <key> = "..."`.
    pub fn cell_setting(&self, cell: &str, key: &str) -> Option<String> {
        self.config
            .get(cell)?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    /// A Cell's image: the variable `env` (such as `CELL_POSTGRES_IMAGE`), else
    /// `[workspace.metadata.cell.<cell>] <key>` (`image`), else `default` (the official one).
    pub fn cell_image(&self, cell: &str, key: &str, env: &str, default: &str) -> String {
        std::env::var(env)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.cell_setting(cell, key))
            .unwrap_or_else(|| default.to_string())
    }

    /// The Cells `[workspace.metadata.cell] disabled = [...]` names.
    pub fn disabled_cells(&self) -> Vec<String> {
        self.config
            .get("disabled")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A workspace at `root` with no members and no settings (for tests and tools).
    pub fn bare(root: &Path) -> Workspace {
        Workspace {
            root: root.to_path_buf(),
            target_dir: root.join("target"),
            manifest_path: root.join("Cargo.toml"),
            members: Vec::new(),
            member_ids: Default::default(),
            id: WorkspaceId::for_root(root),
            config: serde_json::Value::Null,
        }
    }
}

/// Which workspace owns a container: its labels carry [`WorkspaceId::id`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceId {
    /// The workspace folder's name, made safe for container names.
    pub name: String,
    /// A short stable hash of the workspace root's path.
    pub id: String,
}

impl WorkspaceId {
    /// The id of the workspace rooted at `root` (canonicalized when it exists,
    /// so `./ws` and `/abs/ws` are the same workspace).
    pub fn for_root(root: &Path) -> Self {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let name = sanitize_name(
            &root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let id = short_hash(root.as_os_str().as_encoded_bytes(), 10);
        WorkspaceId { name, id }
    }

    /// The container name of `cell`: `cell-<name>-<id>-<cell>`.
    pub fn container_name(&self, cell: &str) -> String {
        format!("cell-{}-{}-{}", self.name, self.id, sanitize_name(cell))
    }

    /// The volume name of `cell`: `cell-<name>-<id>-<cell>-data`.
    pub fn volume_name(&self, cell: &str) -> String {
        format!("{}-data", self.container_name(cell))
    }
}

/// Lowercase `[a-z0-9_.-]`, starting with a letter or digit, at most 32
/// characters; `workspace` when nothing is left.
pub(crate) fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || ((c == '_' || c == '.' || c == '-') && !out.is_empty()) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 32 {
            break;
        }
    }
    let out = out.trim_end_matches(['-', '.', '_']).to_owned();
    if out.is_empty() {
        "workspace".to_owned()
    } else {
        out
    }
}

pub fn short_hash(bytes: &[u8], hex_len: usize) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = hex::encode(digest);
    hex.truncate(hex_len);
    hex
}

//! The workspace being built: root, target directory, members and `[workspace.metadata.cell]`.

use std::path::{Path, PathBuf};

use cargo_metadata::MetadataCommand;

use crate::docker::WorkspaceId;
use crate::error::Error;

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
    pub config: serde_json::Value,
}

/// The cargo that runs us (`$CARGO`), else the one on PATH.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

impl Workspace {
    pub fn load(manifest_path: Option<&Path>) -> Result<Workspace, Error> {
        if let Some(meta) = crate::metadata_cache::load(manifest_path) {
            return Ok(Workspace::from_metadata(&meta));
        }
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(cargo()).no_deps();
        if let Some(p) = manifest_path {
            cmd.manifest_path(p);
        }
        let output = cmd.cargo_command().output().map_err(|e| Error::Metadata {
            source: Box::new(e),
        })?;
        if !output.status.success() {
            return Err(Error::Metadata {
                source: String::from_utf8_lossy(&output.stderr)
                    .trim()
                    .to_string()
                    .into(),
            });
        }
        let json = String::from_utf8_lossy(&output.stdout);
        let json = json
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap_or_default();
        let meta = MetadataCommand::parse(json).map_err(|source| Error::Metadata {
            source: Box::new(source),
        })?;
        crate::metadata_cache::save(manifest_path, &meta, json);
        Ok(Workspace::from_metadata(&meta))
    }

    fn from_metadata(meta: &cargo_metadata::Metadata) -> Workspace {
        let root: PathBuf = meta.workspace_root.clone().into();
        let members = meta
            .workspace_packages()
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        Workspace {
            id: WorkspaceId::for_root(&root),
            manifest_path: root.join("Cargo.toml"),
            target_dir: meta.target_directory.clone().into(),
            config: meta
                .workspace_metadata
                .get("cell")
                .cloned()
                .unwrap_or_default(),
            members,
            member_ids: meta
                .workspace_members
                .iter()
                .map(|id| id.repr.clone())
                .collect(),
            root,
        }
    }

    pub fn cell_dir(&self) -> PathBuf {
        self.root.join(".cell")
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
}

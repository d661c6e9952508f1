//! Loading the workspace being built (root, target directory, members and
//! `[workspace.metadata.cell]`) from `cargo metadata`, cached.

use std::path::{Path, PathBuf};

use cargo_metadata::MetadataCommand;

use crate::error::Error;
use crate::toolchain::cargo;
pub use cell_core::workspace::{Workspace, WorkspaceId};

/// The workspace of `manifest_path` (or of the current folder).
pub fn load(manifest_path: Option<&Path>) -> Result<Workspace, Error> {
    if let Some(meta) = crate::metadata_cache::load(manifest_path) {
        return Ok(from_metadata(&meta));
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
    Ok(from_metadata(&meta))
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

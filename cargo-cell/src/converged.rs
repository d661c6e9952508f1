//! Skipping up, plan and apply in `cargo cell build` when the Cell is as the last converge
//! left it.
//!
//! After every successful converge, `.cell/state/postgres.converged.json` (git-ignored, with
//! the rest of the dev state) records the container it ran against, when that container was
//! started (Docker's `StartedAt`, which changes on every start, engine restarts included),
//! its configuration label, and hashes of the manifest and of the lock written. A later
//! build whose manifest and lock hash the same, and whose container is still running since
//! that same start with the same configuration, has nothing to bring up and nothing to
//! apply: one `inspect` of the container replaces the login, the catalog queries and the
//! lock rewrite.
//!
//! What this does not see is a schema changed behind the tool's back while the container
//! kept running (`psql ... ALTER TABLE`). The binary still refuses such a database at
//! connect (the schema fingerprints), and `cargo cell plan` / `cargo cell apply`, which
//! never take this shortcut, show and repair it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::docker::{Engine, LABEL_CONFIG, LABEL_WORKSPACE};
use crate::manifest::Manifest;
use crate::postgres;
use crate::workspace::Workspace;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    container_id: String,
    started_at: String,
    config: String,
    manifest: String,
    lock: String,
}

fn path(ws: &Workspace) -> PathBuf {
    ws.cell_dir()
        .join("state")
        .join(format!("{}.converged.json", cell_postgres::CELL_NAME))
}

fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lock_hash(ws: &Workspace) -> Option<String> {
    std::fs::read(postgres::lock_path(ws))
        .ok()
        .map(|b| hash(&b))
}

/// The container the dev state names, if it runs, is labelled for this workspace and has the
/// configuration this workspace asks for now: (id, started at, configuration hash).
async fn current(ws: &Workspace) -> Option<(String, String, String)> {
    let state = postgres::read_state(ws)?;
    let config = postgres::spec(ws, &state.password).config_hash();
    let engine = Engine::connect().await.ok()?;
    let status = engine.container_status(&state.container_id).await.ok()??;
    let ours = status.running
        && status.labels.get(LABEL_CONFIG) == Some(&config)
        && status.labels.get(LABEL_WORKSPACE) == Some(&ws.id.id);
    ours.then_some((state.container_id, status.started_at, config))
}

/// Before recording: the last converge's stamp, if its container is still running since
/// then, unchanged. Costs one Docker `inspect`; no login.
pub async fn container_unchanged(ws: &Workspace) -> Option<Converged> {
    let stamp: Stamp = serde_json::from_slice(&std::fs::read(path(ws)).ok()?).ok()?;
    let (id, started_at, config) = current(ws).await?;
    (stamp.container_id == id && stamp.started_at == started_at && stamp.config == config)
        .then_some(Converged(stamp))
}

/// A converge that is still valid for its container; see [`Converged::covers`].
#[derive(Debug)]
pub struct Converged(Stamp);

impl Converged {
    /// Whether the last converge applied exactly this manifest and wrote the lock that is
    /// on disk now: then there is nothing to plan.
    pub fn covers(&self, ws: &Workspace, manifest: &Manifest) -> bool {
        hash(&manifest.to_bytes()) == self.0.manifest
            && lock_hash(ws).as_ref() == Some(&self.0.lock)
    }
}

/// After a successful converge of `manifest`: remember it. Failing to is not an error (the
/// next build just takes the long way).
pub async fn save(ws: &Workspace, manifest: &Manifest) {
    let Some(lock) = lock_hash(ws) else {
        forget(ws);
        return;
    };
    let Some((container_id, started_at, config)) = current(ws).await else {
        forget(ws);
        return;
    };
    let stamp = Stamp {
        container_id,
        started_at,
        config,
        manifest: hash(&manifest.to_bytes()),
        lock,
    };
    let bytes = serde_json::to_vec_pretty(&stamp).expect("stamp serialises");
    let _ = cell_lockfile::write_if_changed(&path(ws), &bytes);
}

/// Before a converge: a failed or partial one must not leave a stamp behind.
pub fn forget(ws: &Workspace) {
    let _ = std::fs::remove_file(path(ws));
}

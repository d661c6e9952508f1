//! Skipping up, plan and apply in `cargo cell build` when every Cell is as the last converge
//! left it.
//!
//! After every successful converge, `.cell/state/converged.json` (git-ignored, with the
//! rest of the dev state) records, for each Cell that runs a container, the container it
//! ran against, when that container was started (Docker's `StartedAt`, which changes on
//! every start, engine restarts included) and its configuration label; and hashes of the
//! manifest and of every lock. A later build whose manifest and locks hash the same, and
//! whose containers are still running since those same starts with the configuration the
//! workspace asks for now, has nothing to bring up and nothing to apply: one `inspect` per
//! container replaces the logins, the catalog queries and the lock rewrites.
//!
//! What this does not see is a Cell changed behind the tool's back while its container kept
//! running (`psql ... ALTER TABLE`). The binary still refuses such a database at connect
//! (the schema fingerprints), and `cargo cell plan` / `cargo cell apply`, which never take
//! this shortcut, show and repair it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use cell_core::docker::{LABEL_CONFIG, LABEL_WORKSPACE};
use cell_core::{Context, LiveCell, Manifest, Workspace};

const FILE: &str = "converged.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Container {
    container_id: String,
    started_at: String,
    config: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    manifest: String,
    /// Each Cell's lock hash; a Cell without a lock is absent.
    locks: BTreeMap<String, String>,
    containers: BTreeMap<String, Container>,
}

fn path(ws: &Workspace) -> PathBuf {
    cell_core::state::dir(ws).join(FILE)
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn lock_hashes(ws: &Workspace) -> BTreeMap<String, String> {
    crate::registry::cells()
        .iter()
        .filter_map(|c| {
            let bytes = std::fs::read(ws.lock_path(c.lock_file())).ok()?;
            Some((c.name().to_string(), hash(&bytes)))
        })
        .collect()
}

/// `cell`'s container, if it runs since `id` started, is labelled for this workspace and
/// has the configuration the workspace asks for now.
async fn current(cx: &Context<'_>, cell: &dyn LiveCell, id: &str) -> Option<Container> {
    let engine = cx.engine().await.ok()?;
    let status = engine.container_status(id).await.ok()??;
    let config = cell.container(cx, None).await.ok()?.config_hash();
    let ours = status.running
        && status.labels.get(LABEL_CONFIG) == Some(&config)
        && status.labels.get(LABEL_WORKSPACE) == Some(&cx.ws.id.id);
    ours.then(|| Container {
        container_id: id.to_string(),
        started_at: status.started_at,
        config,
    })
}

/// Before recording: the last converge's stamp, if every container it names is still
/// running since then, unchanged, and every Cell the workspace uses is among them.
pub async fn container_unchanged(
    cx: &Context<'_>,
    cells: &[&'static dyn LiveCell],
) -> Option<Converged> {
    let stamp: Stamp = serde_json::from_slice(&std::fs::read(path(cx.ws)).ok()?).ok()?;
    let used = cells
        .iter()
        .filter(|c| c.runs_locally(cx.ws) && c.is_used(cx.ws, None));
    for cell in used {
        stamp.containers.get(cell.name())?;
    }
    let checks = stamp.containers.iter().map(|(name, saved)| async move {
        let cell = cells.iter().find(|c| c.name() == name)?;
        (current(cx, *cell, &saved.container_id).await.as_ref() == Some(saved)).then_some(())
    });
    futures_util::future::join_all(checks)
        .await
        .into_iter()
        .collect::<Option<Vec<()>>>()?;
    Some(Converged(stamp))
}

/// A converge that is still valid for its containers; see [`Converged::covers`].
#[derive(Debug)]
pub struct Converged(Stamp);

impl Converged {
    /// Whether the last converge applied exactly this manifest and wrote the locks that are
    /// on disk now: then there is nothing to plan.
    pub fn covers(&self, ws: &Workspace, manifest: &Manifest) -> bool {
        hash(&manifest.to_bytes()) == self.0.manifest && lock_hashes(ws) == self.0.locks
    }

    /// The Cells it stamped, for the message.
    pub fn cells(&self) -> impl Iterator<Item = &str> {
        self.0.containers.keys().map(String::as_str)
    }
}

/// After a successful converge of `manifest`: remember it. Failing to is not an error (the
/// next build just takes the long way).
pub async fn save(cx: &Context<'_>, cells: &[&'static dyn LiveCell], manifest: &Manifest) {
    let mut containers = BTreeMap::new();
    for cell in cells {
        if !cell.runs_locally(cx.ws) || !cell.is_used(cx.ws, Some(manifest)) {
            continue;
        }
        let Some(endpoint) = cx.endpoint_of(*cell) else {
            return forget(cx.ws);
        };
        let Some(container) = current(cx, *cell, &endpoint.container_id).await else {
            return forget(cx.ws);
        };
        containers.insert(cell.name().to_string(), container);
    }
    let stamp = Stamp {
        manifest: hash(&manifest.to_bytes()),
        locks: lock_hashes(cx.ws),
        containers,
    };
    let bytes = serde_json::to_vec_pretty(&stamp).expect("stamp serialises");
    let _ = cell_core::state::write_bytes(cx.ws, FILE, &bytes);
}

/// Before a converge: a failed or partial one must not leave a stamp behind.
pub fn forget(ws: &Workspace) {
    let _ = std::fs::remove_file(path(ws));
}

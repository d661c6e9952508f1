//! Phase 1: the record step (`cargo check` with the stub macros, see [`crate::record`]),
//! the manifest it writes, and on the dev target the Cells that have a lock brought up
//! beside it.

use std::time::Instant;

use cell_core::live::Timings;
use cell_core::ui::Ui;
use cell_core::{Context, LiveCell, Manifest, Target};

use crate::cli::CargoArgs;
use crate::error::Error;
use crate::record::{self, Recording};
use crate::workspace::Workspace;

pub fn write_manifest(ws: &Workspace, manifest: &Manifest) -> Result<(), Error> {
    let path = ws.work_dir().join("manifest.json");
    cell_core::lockfile::write_if_changed(&path, &manifest.to_bytes())
        .map_err(|source| cell_core::CoreError::Write { path, source })?;
    Ok(())
}

/// The record step on a blocking thread.
pub async fn record_blocking(
    ws: &Workspace,
    args: &CargoArgs,
    ui: &Ui,
) -> Result<Recording, Error> {
    let (ws, args, ui) = (ws.clone(), args.clone(), ui.clone());
    tokio::task::spawn_blocking(move || record::record(&ws, &args, &ui))
        .await
        .expect("record task")
}

pub fn record_manifest(
    ws: &Workspace,
    args: &CargoArgs,
    ui: &Ui,
    t: &Timings,
) -> Result<Recording, Error> {
    let start = Instant::now();
    let recording = record::record(ws, args, ui)?;
    write_manifest(ws, &recording.manifest)?;
    Ok(t.stage("record", start, recording))
}

/// Records and, on the dev target, brings up at the same time every Cell that has a lock
/// (the workspace had it before): the no-op build then costs the longer of the two, not
/// their sum. A failed record returns at once.
pub async fn record_and_up(
    cx: &Context<'_>,
    args: &CargoArgs,
    cells: &[&'static dyn LiveCell],
) -> Result<Recording, Error> {
    let start = Instant::now();
    let early: Vec<&'static dyn LiveCell> = match cx.target {
        Target::Dev => cells
            .iter()
            .copied()
            .filter(|c| c.runs_locally(cx.ws) && c.is_used(cx.ws, None))
            .collect(),
        Target::Env(_) => Vec::new(),
    };
    let ups = async {
        let start = Instant::now();
        let results = futures_util::future::join_all(early.iter().map(|c| cx.up(*c))).await;
        (results, start.elapsed())
    };
    tokio::pin!(ups);
    let record = record_blocking(cx.ws, args, cx.ui);
    tokio::pin!(record);
    let mut ups_done = None;
    let recording = loop {
        tokio::select! {
            r = &mut record => break r,
            u = &mut ups, if ups_done.is_none() => ups_done = Some(u),
        }
    };
    // A failed record drops the ups still under way.
    let recording = cx.timings.stage("record", start, recording?);
    write_manifest(cx.ws, &recording.manifest)?;
    let (results, took) = match ups_done {
        Some(done) => done,
        None => ups.await,
    };
    if !early.is_empty() {
        cx.timings.push("up (overlapped)", took);
    }
    for r in results {
        r?;
    }
    Ok(recording)
}

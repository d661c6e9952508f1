//! `cargo cell build`: phase 1 (record, and the Cells up), every Cell's apply and lock, then
//! phase 2, the `cargo build` a user would run.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use cell_core::live::Timings;
use cell_core::ui::Ui;
use cell_core::{ApplyOptions, Context, LiveCell, Manifest, Target};

use crate::cli::{BuildArgs, CargoArgs, GlobalArgs};
use crate::error::Error;
use crate::phase1::{record_and_up, record_manifest};
use crate::record;
use crate::selection::{self, DISABLED_ENV, enabled};
use crate::toolchain::cargo;
use crate::workspace::Workspace;

pub async fn build(
    ws: &Workspace,
    args: BuildArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let disabled = selection::disabled(ws, g);
    let cells = enabled(ws, g);
    let cx = Context::new(ws, ui, Target::Dev, &t);
    // --offline, or every Cell disabled: build against the committed locks alone.
    let skip_cells = g.offline || cells.is_empty();
    if skip_cells {
        ui.verbose("skipping record, up, plan and apply: building against the locks");
    }
    // Cells still running as the last converge left them need no up (see `converged`).
    let unchanged = if skip_cells {
        None
    } else {
        let start = Instant::now();
        let unchanged = crate::converged::container_unchanged(&cx, &cells).await;
        t.stage("check cells", start, unchanged)
    };
    // With the Cells unchanged, phase 2 runs beside the record step (see `speculate`).
    let mut ahead = None;
    let recording = match (&unchanged, skip_cells) {
        (_, true) => None,
        (Some(_), false) => {
            ahead = crate::speculate::start(phase2_command(ws, &args.cargo, &disabled), ui);
            Some(record_manifest(ws, &args.cargo, ui, &t)?)
        }
        (None, false) => Some(record_and_up(&cx, &args.cargo, &cells).await?),
    };
    if let (Some(path), Some(recording)) = (&args.emit_manifest, &recording) {
        std::fs::write(path, recording.manifest.to_bytes()).map_err(|source| {
            cell_core::CoreError::Write {
                path: path.clone(),
                source,
            }
        })?;
    }
    match &recording {
        None => {}
        Some(recording)
            if !recording.pending
                && waiting(&cells, ws, &recording.manifest) == 0
                && unchanged
                    .as_ref()
                    .is_some_and(|c| c.covers(ws, &recording.manifest)) =>
        {
            for cell in unchanged.iter().flat_map(|c| c.cells()) {
                ui.info(&format!(
                    "{cell}: no changes (the Cell is as the last build left it)"
                ));
            }
            if let Some(ahead) = ahead.take() {
                let started = ahead.started;
                let ok = ahead.confirm(ui).map_err(|source| Error::CargoSpawn {
                    cargo: cargo().display().to_string(),
                    source,
                })?;
                t.stage("build (overlapped)", started, ());
                t.print(ui, g.timings);
                return if ok {
                    Ok(ExitCode::SUCCESS)
                } else {
                    Err(Error::BuildFailed)
                };
            }
        }
        Some(first) => {
            // The manifest changed: a build running ahead is against the old locks.
            drop(ahead.take());
            crate::converged::forget(ws);
            let how = ApplyOptions {
                build: true,
                yes: true,
                colour: false,
                allow_destructive: args.safety.allow_destructive,
                saved_plan: None,
            };
            let mut again = None;
            for round in 1.. {
                let recording = again.as_ref().unwrap_or(first);
                let mut lock_created = false;
                for cell in &cells {
                    lock_created |= cell
                        .apply(&cx, &recording.manifest, &how)
                        .await?
                        .lock_created;
                }
                if lock_created {
                    // Crates compiled before a lock existed do not depend on it yet (the stub
                    // expansion had no file to track): compile them once more.
                    record::recompile(ws, &recording.packages, ui);
                }
                if !recording.pending {
                    crate::converged::save(&cx, &cells, &recording.manifest).await;
                    break;
                }
                // Items the record step could not expand (checked queries) are described now:
                // record again, so the crates they stopped from compiling record too.
                if round == MAX_ROUNDS {
                    return Err(Error::QueriesPending {
                        count: waiting(&cells, ws, &recording.manifest).max(1),
                        rounds: round,
                    });
                }
                again = Some(record_manifest(ws, &args.cargo, ui, &t)?);
            }
        }
    }
    drop(ahead); // Not confirmed: interrupted before anything else builds.
    let start = Instant::now();
    let ok = cargo_build(ws, &args.cargo, &disabled, ui)?;
    t.stage("build", start, ());
    t.print(ui, g.timings);
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::BuildFailed)
    }
}

/// Record and apply rounds before giving up on items that still wait for their Cell: one
/// for a new checked query, one more for each layer of workspace crates whose queries a
/// failing crate hid (a library's, then its binaries').
const MAX_ROUNDS: usize = 4;

/// Recorded items that wait for their Cell's apply (see `Cell::waiting`).
fn waiting(cells: &[&'static dyn LiveCell], ws: &Workspace, manifest: &Manifest) -> usize {
    cells.iter().map(|c| c.waiting(ws, manifest)).sum()
}

/// Phase 2: exactly the `cargo build` a user would run, so a later plain `cargo build` is
/// fresh. Output passes through unchanged.
fn cargo_build(
    ws: &Workspace,
    args: &CargoArgs,
    disabled: &[String],
    ui: &Ui,
) -> Result<bool, Error> {
    let mut cmd = phase2_command(ws, args, disabled);
    ui.verbose(&format!("running {cmd:?}"));
    let status = ui
        .suspend(|| cmd.status())
        .map_err(|source| Error::CargoSpawn {
            cargo: cargo().display().to_string(),
            source,
        })?;
    Ok(status.success())
}

fn phase2_command(ws: &Workspace, args: &CargoArgs, disabled: &[String]) -> Command {
    let mut cmd = Command::new(cargo());
    if !disabled.is_empty() {
        cmd.env(DISABLED_ENV, disabled.join(","));
    }
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&ws.manifest_path);
    for p in &args.package {
        cmd.arg("-p").arg(p);
    }
    if args.release {
        cmd.arg("--release");
    }
    record::feature_args(&mut cmd, args);
    cmd.args(&args.rest).stdin(Stdio::null());
    cmd
}

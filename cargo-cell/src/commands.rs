//! The subcommands, each a straight line through the stages, looping over the registry of
//! Cells ([`crate::registry::cells()`]).

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use cell_core::live::Timings;
use cell_core::ui::Ui;
use cell_core::{ApplyOptions, Context, LiveCell, Manifest, Target};

use crate::cli::{BuildArgs, CargoArgs, CellCli, Command as Cmd, GlobalArgs, ManifestArgs, Parsed};
use crate::deploy;
use crate::error::Error;
use crate::lifecycle;
use crate::record::{self, Recording};
use crate::workspace::{self, Workspace, cargo};

pub async fn run(parsed: Parsed) -> Result<ExitCode, Error> {
    match parsed {
        Parsed::Core(cli) => run_core(cli).await,
        Parsed::Cell {
            cell,
            command,
            matches,
            global,
        } => {
            let ui = Ui::new(global.quiet, global.verbose);
            let manifest_path = global.manifest_path.clone();
            let load = move || {
                workspace::load(manifest_path.as_deref()).map_err(cell_core::CellError::new)
            };
            Ok(cell.run_command(&command, &matches, &load, &ui).await?)
        }
    }
}

async fn run_core(cli: CellCli) -> Result<ExitCode, Error> {
    let g = &cli.global;
    let ui = Ui::new(g.quiet, g.verbose);
    // These need no workspace.
    let command = match cli.command {
        Cmd::New(args) => return crate::scaffold::new(args, &ui),
        Cmd::Completions(args) => return Ok(crate::completions::print(args)),
        command => command,
    };
    let ws = workspace::load(g.manifest_path.as_deref())?;
    if g.offline && matches!(command, Cmd::Plan(_) | Cmd::Apply(_)) {
        return Err(Error::Offline {
            command: if matches!(command, Cmd::Plan(_)) {
                "plan"
            } else {
                "apply"
            },
        });
    }
    match command {
        Cmd::Build(args) => build(&ws, args, g, &ui).await,
        Cmd::Plan(args) => deploy::plan(&ws, args, g, &ui).await,
        Cmd::Apply(args) => deploy::apply(&ws, args, g, &ui).await,
        Cmd::Check(args) => deploy::check(&ws, args, g, &ui).await,
        Cmd::Up(args) => lifecycle::up(&ws, args, g, &ui).await,
        Cmd::Down(args) => lifecycle::down(&ws, args, &ui).await,
        Cmd::Status(args) => lifecycle::status(&ws, args, g, &ui).await,
        Cmd::Logs(args) => lifecycle::logs(&ws, args, &ui).await,
        Cmd::Reset(args) => {
            if lifecycle::reset_data(&ws, &args, &ui).await? {
                // The dev data is created again: an empty Cell with the declared schema.
                let mut apply = default_args::<crate::cli::ApplyArgs>();
                apply.yes = true;
                deploy::apply(&ws, apply, g, &ui).await
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
        Cmd::Run(args) => lifecycle::cargo_with_cells(&ws, "run", args, g, &ui).await,
        Cmd::Test(args) => lifecycle::cargo_with_cells(&ws, "test", args, g, &ui).await,
        Cmd::Manifest(args) => manifest(&ws, args, g, &ui),
        Cmd::New(_) | Cmd::Completions(_) => unreachable!("handled above"),
    }
}

/// A subcommand's arguments as an empty command line gives them (so new fields need no edit here).
fn default_args<T: clap::Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("cargo-cell"));
    T::from_arg_matches(&cmd.get_matches_from(["cargo-cell"])).expect("defaults parse")
}

/// The Cells a command works with: every registered Cell but those `--without` and
/// `[workspace.metadata.cell] disabled` turn off.
pub(crate) fn enabled(ws: &Workspace, g: &GlobalArgs) -> Vec<&'static dyn LiveCell> {
    let off = lifecycle::disabled(ws, g);
    crate::registry::cells()
        .iter()
        .copied()
        .filter(|c| !off.iter().any(|d| d == c.name()))
        .collect()
}

pub(crate) fn write_manifest(ws: &Workspace, manifest: &Manifest) -> Result<(), Error> {
    let path = ws.work_dir().join("manifest.json");
    cell_core::lockfile::write_if_changed(&path, &manifest.to_bytes())
        .map_err(|source| cell_core::CoreError::Write { path, source })?;
    Ok(())
}

/// The record step on a blocking thread.
pub(crate) async fn record_blocking(
    ws: &Workspace,
    args: &CargoArgs,
    ui: &Ui,
) -> Result<Recording, Error> {
    let (ws, args, ui) = (ws.clone(), args.clone(), ui.clone());
    tokio::task::spawn_blocking(move || record::record(&ws, &args, &ui))
        .await
        .expect("record task")
}

fn record_manifest(
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
pub(crate) async fn record_and_up(
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

async fn build(
    ws: &Workspace,
    args: BuildArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let disabled = lifecycle::disabled(ws, g);
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
            if unchanged
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
        Some(recording) => {
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
            let mut lock_created = false;
            for cell in &cells {
                lock_created |= cell
                    .apply(&cx, &recording.manifest, &how)
                    .await?
                    .lock_created;
            }
            crate::converged::save(&cx, &cells, &recording.manifest).await;
            if lock_created {
                // Crates compiled before a lock existed do not depend on it yet (the stub
                // expansion had no file to track): compile them once more.
                record::recompile(ws, &recording.packages, ui);
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
        cmd.env(lifecycle::DISABLED_ENV, disabled.join(","));
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

fn manifest(
    ws: &Workspace,
    args: ManifestArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let recording = record_manifest(ws, &args.cargo, ui, &t)?;
    print!(
        "{}",
        String::from_utf8_lossy(&recording.manifest.to_bytes())
    );
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
}

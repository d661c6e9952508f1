//! The subcommands, each a straight line through the stages.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::cli::{BuildArgs, CargoArgs, CellCli, Command as Cmd, GlobalArgs, ManifestArgs};
use crate::deploy;
use crate::docker::Engine;
use crate::error::Error;
use crate::lifecycle;
use crate::manifest::Manifest;
use crate::postgres;
use crate::record::{self, Recording};
use crate::redis;
use crate::ui::Ui;
use crate::workspace::{Workspace, cargo};

/// How long each stage took, for `--timings`.
pub(crate) struct Timings(Vec<(&'static str, f64)>, Instant);

impl Default for Timings {
    fn default() -> Self {
        Timings(Vec::new(), Instant::now())
    }
}

impl Timings {
    pub(crate) fn stage<T>(&mut self, name: &'static str, start: Instant, value: T) -> T {
        self.0.push((name, start.elapsed().as_secs_f64()));
        value
    }

    pub(crate) fn print(&self, ui: &Ui, enabled: bool) {
        if enabled {
            // Wall time: some stages overlap.
            let total = self.1.elapsed().as_secs_f64();
            let parts: Vec<String> = self.0.iter().map(|(n, s)| format!("{n} {s:.3}s")).collect();
            ui.info(&format!(
                "timings: {} (total {total:.3}s)",
                parts.join(", ")
            ));
        }
    }
}

pub async fn run(cli: CellCli) -> Result<ExitCode, Error> {
    let g = &cli.global;
    let ui = Ui::new(g.quiet, g.verbose);
    // These need no workspace (`auth serve` runs inside the Auth Cell's container).
    let command = match cli.command {
        Cmd::New(args) => return crate::scaffold::new(args, &ui),
        Cmd::Completions(args) => return Ok(crate::completions::print(args)),
        Cmd::Auth(args) => return crate::auth::command(args, g, &ui).await,
        command => command,
    };
    let ws = Workspace::load(g.manifest_path.as_deref())?;
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
                // The dev data is created again: an empty database with the declared schema.
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
        Cmd::New(_) | Cmd::Completions(_) | Cmd::Auth(_) => unreachable!("handled above"),
    }
}

/// A subcommand's arguments as an empty command line gives them (so new fields need no edit here).
fn default_args<T: clap::Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("cargo-cell"));
    T::from_arg_matches(&cmd.get_matches_from(["cargo-cell"])).expect("defaults parse")
}

pub(crate) fn write_manifest(ws: &Workspace, manifest: &Manifest) -> Result<(), Error> {
    let path = ws.work_dir().join("manifest.json");
    cell_lockfile::write_if_changed(&path, &manifest.to_bytes())
        .map_err(|source| Error::Write { path, source })?;
    Ok(())
}

fn record_manifest(
    ws: &Workspace,
    args: &CargoArgs,
    ui: &Ui,
    t: &mut Timings,
) -> Result<Recording, Error> {
    let start = Instant::now();
    let recording = record::record(ws, args, ui)?;
    write_manifest(ws, &recording.manifest)?;
    Ok(t.stage("record", start, recording))
}

/// A live Cell: its state and an open client.
pub(crate) struct Live {
    pub(crate) client: tokio_postgres::Client,
}

pub(crate) async fn bring_up(ws: &Workspace, ui: &Ui) -> Result<Live, Error> {
    let engine = Engine::connect().await?;
    let state = postgres::up(ws, &engine, ui).await?;
    let client = postgres::connect(&state.url)
        .await
        .map_err(|source| Error::Postgres {
            cell: "postgres".into(),
            source,
        })?;
    Ok(Live { client })
}

/// Records and, when the workspace already has Cells (a lock exists), brings them up at
/// the same time: the no-op build then costs the longer of the two, not their sum.
pub(crate) async fn record_and_up(
    ws: &Workspace,
    args: &CargoArgs,
    ui: &Ui,
    t: &mut Timings,
) -> Result<(Recording, Option<Live>), Error> {
    let start = Instant::now();
    let early_up = postgres::lock_path(ws).exists().then(|| {
        let (ws, ui) = (ws.clone(), ui.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            (bring_up(&ws, &ui).await, start.elapsed())
        })
    });
    let recording = {
        let (ws, args, ui) = (ws.clone(), args.clone(), ui.clone());
        tokio::task::spawn_blocking(move || record::record(&ws, &args, &ui))
            .await
            .expect("record task")
    };
    let recording = match recording {
        Ok(r) => t.stage("record", start, r),
        Err(e) => {
            if let Some(task) = early_up {
                task.abort();
            }
            return Err(e);
        }
    };
    write_manifest(ws, &recording.manifest)?;
    let live = match early_up {
        Some(task) => {
            let (live, took) = task.await.expect("up task");
            t.0.push(("up (overlapped)", took.as_secs_f64()));
            Some(live?)
        }
        None if recording.manifest.is_empty() => None,
        None => {
            let start = Instant::now();
            let live = bring_up(ws, ui).await?;
            Some(t.stage("up", start, live))
        }
    };
    Ok((recording, live))
}

async fn build(
    ws: &Workspace,
    args: BuildArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let disabled = lifecycle::disabled(ws, g);
    let off = |cell: &str| disabled.iter().any(|d| d == cell);
    // --offline, or the only Cell disabled: build against the committed locks alone.
    let skip_cells = g.offline || off("postgres");
    if skip_cells {
        ui.verbose("skipping record, up, plan and apply: building against the locks");
    }
    // A Cell still running as the last converge left it needs no up (see `converged`).
    let unchanged = if skip_cells {
        None
    } else {
        let start = Instant::now();
        let unchanged = crate::converged::container_unchanged(ws).await;
        t.stage("check cells", start, unchanged)
    };
    // With the Cell unchanged, phase 2 runs beside the record step (see `speculate`).
    let mut ahead = None;
    let mut redis_early = None;
    let (recording, live) = match (&unchanged, skip_cells) {
        (_, true) => (None, None),
        (Some(_), false) => {
            ahead = crate::speculate::start(phase2_command(ws, &args.cargo, &disabled), ui);
            (Some(record_manifest(ws, &args.cargo, ui, &mut t)?), None)
        }
        (None, false) => {
            // A disabled Cell is not started, not even ahead of time.
            redis_early = if off("redis") {
                None
            } else {
                redis::start_early(ws, ui)
            };
            let (r, l) = record_and_up(ws, &args.cargo, ui, &mut t).await?;
            (Some(r), l)
        }
    };
    if let (Some(path), Some(recording)) = (&args.emit_manifest, &recording) {
        std::fs::write(path, recording.manifest.to_bytes()).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    match &recording {
        None => {}
        Some(recording)
            if unchanged
                .as_ref()
                .is_some_and(|c| c.covers(ws, &recording.manifest)) =>
        {
            ui.info("postgres: no changes (the Cell is as the last build left it)");
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
            if !off("redis") {
                redis::converge(ws, &recording.manifest, redis_early, true, ui).await?;
            }
            let auth_lock_created =
                !off("auth") && crate::auth::converge(ws, &recording.manifest.auth, ui).await?;
            if !recording.manifest.is_empty() {
                let mut live = match live {
                    Some(live) => live,
                    None => {
                        let start = Instant::now();
                        let live = bring_up(ws, ui).await?;
                        t.stage("up", start, live)
                    }
                };
                crate::converged::forget(ws);
                let lock_created = deploy::converge(
                    ws,
                    &recording.manifest,
                    &mut live.client,
                    args.safety.allow_destructive,
                    ui,
                    &mut t,
                )
                .await?;
                crate::converged::save(ws, &recording.manifest).await;
                if lock_created && !auth_lock_created {
                    // Crates compiled before the lock existed do not depend on it yet (the
                    // stub expansion had no file to track): compile them once more.
                    record::recompile(ws, &recording.packages, ui);
                }
            }
            if auth_lock_created {
                record::recompile(ws, &recording.packages, ui);
            }
            if !off("telemetry") {
                crate::telemetry::converge(ws, &recording.manifest.telemetry, ui).await?;
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
    let mut t = Timings::default();
    let recording = record_manifest(ws, &args.cargo, ui, &mut t)?;
    print!(
        "{}",
        String::from_utf8_lossy(&recording.manifest.to_bytes())
    );
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
}

//! The subcommands, each a straight line through the stages.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::cli::{
    ApplyArgs, BuildArgs, CargoArgs, CellCli, Command as Cmd, DownArgs, GlobalArgs, ManifestArgs,
    PlanArgs,
};
use crate::docker::Engine;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::postgres;
use crate::record::{self, Recording};
use crate::ui::Ui;
use crate::workspace::{Workspace, cargo};

/// How long each stage took, for `--timings`.
struct Timings(Vec<(&'static str, f64)>, Instant);

impl Default for Timings {
    fn default() -> Self {
        Timings(Vec::new(), Instant::now())
    }
}

impl Timings {
    fn stage<T>(&mut self, name: &'static str, start: Instant, value: T) -> T {
        self.0.push((name, start.elapsed().as_secs_f64()));
        value
    }

    fn print(&self, ui: &Ui, enabled: bool) {
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
    let ws = Workspace::load(g.manifest_path.as_deref())?;
    match cli.command {
        Cmd::Build(args) => build(&ws, args, g, &ui).await,
        Cmd::Plan(args) => plan(&ws, args, g, &ui).await,
        Cmd::Apply(args) => apply(&ws, args, g, &ui).await,
        Cmd::Up => up(&ws, g, &ui).await,
        Cmd::Down(args) => down(&ws, args, &ui).await,
        Cmd::Status => status(&ws, &ui).await,
        Cmd::Manifest(args) => manifest(&ws, args, g, &ui),
    }
}

fn write_manifest(ws: &Workspace, manifest: &Manifest) -> Result<(), Error> {
    let path = ws.work_dir().join("manifest.json");
    cell_postgres::lock::write_if_changed(&path, &manifest.to_bytes())
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
struct Live {
    client: tokio_postgres::Client,
}

async fn bring_up(ws: &Workspace, ui: &Ui) -> Result<Live, Error> {
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
async fn record_and_up(
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

/// Plans, applies and locks. Returns whether the lock file was created by this run.
async fn converge(
    ws: &Workspace,
    manifest: &Manifest,
    mut live: Live,
    allow_destructive: bool,
    ui: &Ui,
    t: &mut Timings,
) -> Result<bool, Error> {
    let start = Instant::now();
    let planned = postgres::plan(ws, &mut live.client, &manifest.postgres).await?;
    t.stage("plan", start, ());
    let start = Instant::now();
    if planned.plan.is_empty() {
        ui.info("postgres: no changes");
    } else {
        postgres::check_safety(&planned.plan, allow_destructive)?;
        postgres::apply(&mut live.client, &planned.plan).await?;
        ui.info(&format!(
            "postgres: applied {}\n{}",
            planned.plan.summary(),
            planned.plan.render(false).trim_end()
        ));
    }
    let (written, existed) = postgres::write_lock(ws, &live.client, &planned.declared).await?;
    if written {
        ui.info(&format!(
            "postgres: wrote {}",
            postgres::lock_path(ws).display()
        ));
    }
    t.stage("apply", start, ());
    Ok(written && !existed && planned.previous_lock.is_none())
}

async fn build(
    ws: &Workspace,
    args: BuildArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    // A Cell still running as the last converge left it needs no up (see `converged`).
    let start = Instant::now();
    let unchanged = crate::converged::container_unchanged(ws).await;
    t.stage("check cells", start, ());
    // With the Cell unchanged, phase 2 runs beside the record step (see `speculate`).
    let mut ahead = None;
    let (recording, live) = match unchanged {
        Some(_) => {
            ahead = crate::speculate::start(phase2_command(ws, &args.cargo), ui);
            (record_manifest(ws, &args.cargo, ui, &mut t)?, None)
        }
        None => record_and_up(ws, &args.cargo, ui, &mut t).await?,
    };
    if unchanged.is_some_and(|c| c.covers(ws, &recording.manifest)) {
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
    } else if !recording.manifest.is_empty() {
        // The manifest changed: the build running ahead is against the old lock.
        drop(ahead.take());
        let live = match live {
            Some(live) => live,
            None => {
                let start = Instant::now();
                let live = bring_up(ws, ui).await?;
                t.stage("up", start, live)
            }
        };
        crate::converged::forget(ws);
        let lock_created = converge(
            ws,
            &recording.manifest,
            live,
            args.safety.allow_destructive,
            ui,
            &mut t,
        )
        .await?;
        crate::converged::save(ws, &recording.manifest).await;
        if lock_created {
            // Crates compiled before the lock existed do not depend on it yet (the stub
            // expansion had no file to track): compile them once more against it.
            for package in &recording.packages {
                let mut cmd = Command::new(cargo());
                cmd.args(["clean", "-q", "-p", package, "--manifest-path"])
                    .arg(&ws.manifest_path);
                ui.verbose(&format!("running {cmd:?}"));
                let _ = cmd.stdin(Stdio::null()).status();
            }
        }
    }
    drop(ahead); // Not confirmed: interrupted before anything else builds.
    let start = Instant::now();
    let ok = cargo_build(ws, &args.cargo, ui)?;
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
fn cargo_build(ws: &Workspace, args: &CargoArgs, ui: &Ui) -> Result<bool, Error> {
    let mut cmd = phase2_command(ws, args);
    ui.verbose(&format!("running {cmd:?}"));
    let status = ui
        .suspend(|| cmd.status())
        .map_err(|source| Error::CargoSpawn {
            cargo: cargo().display().to_string(),
            source,
        })?;
    Ok(status.success())
}

fn phase2_command(ws: &Workspace, args: &CargoArgs) -> Command {
    let mut cmd = Command::new(cargo());
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

async fn plan(ws: &Workspace, args: PlanArgs, g: &GlobalArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let (recording, live) = record_and_up(ws, &args.cargo, ui, &mut t).await?;
    let mut changes = false;
    if recording.manifest.is_empty() {
        println!("No Cell attributes in this workspace: nothing to plan.");
    } else if let Some(mut live) = live {
        let start = Instant::now();
        let planned = postgres::plan(ws, &mut live.client, &recording.manifest.postgres).await?;
        t.stage("plan", start, ());
        if planned.plan.is_empty() {
            println!("postgres: No changes. The database matches the code.");
        } else {
            changes = true;
            println!("postgres: {}", planned.plan.summary());
            print!("{}", planned.plan.render(args.sql));
            if planned.plan.unsafe_steps().next().is_some() {
                println!(
                    "\nSome steps lose data: `cargo cell apply --allow-destructive` is needed to run them."
                );
            }
        }
    }
    t.print(ui, g.timings);
    Ok(if changes && args.detailed_exitcode {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn apply(
    ws: &Workspace,
    args: ApplyArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let (recording, live) = record_and_up(ws, &args.cargo, ui, &mut t).await?;
    match live.filter(|_| !recording.manifest.is_empty()) {
        None => ui.info("no Cell attributes in this workspace: nothing to apply"),
        Some(live) => {
            converge(
                ws,
                &recording.manifest,
                live,
                args.safety.allow_destructive,
                ui,
                &mut t,
            )
            .await?;
        }
    }
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
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

async fn up(ws: &Workspace, g: &GlobalArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let engine = Engine::connect().await?;
    let start = Instant::now();
    let state = postgres::up(ws, &engine, ui).await?;
    t.stage("up", start, ());
    println!("postgres: {}", cell_postgres::cell::redact(&state.url));
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
}

async fn down(ws: &Workspace, args: DownArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let engine = Engine::connect().await?;
    let removed = engine.remove_cells(&ws.id, &[], args.volumes).await?;
    if removed.is_empty() {
        ui.info("no Cells to remove");
    }
    for r in removed {
        ui.info(&format!("removed {r}"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(ws: &Workspace, _ui: &Ui) -> Result<ExitCode, Error> {
    let engine = Engine::connect().await?;
    match engine.find_cell(&ws.id, "postgres").await? {
        Some(c) if c.host_port != 0 => {
            println!(
                "postgres  running  {}  127.0.0.1:{}  {}",
                c.image,
                c.host_port,
                &c.container_id[..12]
            )
        }
        Some(c) => println!("postgres  stopped  {}  {}", c.image, &c.container_id[..12]),
        None => println!("postgres  absent"),
    }
    let lock = postgres::lock_path(ws);
    println!(
        "lock      {}",
        if lock.exists() {
            lock.display().to_string()
        } else {
            "none yet".into()
        }
    );
    Ok(ExitCode::SUCCESS)
}

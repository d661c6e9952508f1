//! `plan`, `apply` and `check`: every Cell's plan and apply, in registry order. The same
//! code serves the dev Cells (Docker) and deployment environments (`--env NAME`: endpoints
//! from environment variables, no Docker, no rebuild).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use cell_core::live::Timings;
use cell_core::plan::{Plain, Render, Style};
use cell_core::ui::{Colours, Ui};
use cell_core::{ApplyOptions, CellPlan, Context, LiveCell, Manifest, Target};

use crate::cli::{ApplyArgs, CargoArgs, CheckArgs, EnvArgs, Format, GlobalArgs, PlanArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::phase1::{record_and_up, record_blocking, write_manifest};
use crate::report::PlanReport;
use crate::selection::enabled;
use crate::workspace::Workspace;

fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::ManifestFile {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(Box::new(e)))?;
    Manifest::from_slice(&bytes, crate::registry::offline()).map_err(|e| fail(Box::new(e)))
}

/// The manifest to plan from: the one `--manifest` names, else the workspace recorded (on
/// the dev target, with the Cells that have a lock brought up at the same time).
async fn prepare(
    cx: &Context<'_>,
    env: &EnvArgs,
    cargo: &CargoArgs,
    cells: &[&'static dyn LiveCell],
) -> Result<Manifest, Error> {
    if let Some(file) = &env.manifest {
        return read_manifest(file);
    }
    match cx.target {
        Target::Dev => Ok(record_and_up(cx, cargo, cells).await?.manifest),
        Target::Env(_) => {
            let start = Instant::now();
            let recording = record_blocking(cx.ws, cargo, cx.ui).await?;
            write_manifest(cx.ws, &recording.manifest)?;
            Ok(cx.timings.stage("record", start, recording.manifest))
        }
    }
}

pub async fn plan(
    ws: &Workspace,
    args: PlanArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::new(&args.env.env), &t);
    let cells = enabled(ws, g);
    let manifest = prepare(&cx, &args.env, &args.cargo, &cells).await?;
    let mut report = PlanReport::new(cx.target.name());
    let mut plans: Vec<Box<dyn CellPlan>> = Vec::new();
    for cell in &cells {
        if let Some(plan) = cell.plan(&cx, &manifest).await? {
            report.add(cell.name(), &*plan);
            plans.push(plan);
        }
    }
    if let Some(out) = &args.out {
        std::fs::write(out, report.to_json()).map_err(|source| cell_core::CoreError::Write {
            path: out.clone(),
            source,
        })?;
        ui.info(&format!("plan saved to {}", out.display()));
    }
    match args.format {
        Format::Json => print!("{}", report.to_json()),
        Format::Human if plans.is_empty() => {
            println!("No Cell attributes in this workspace: nothing to plan.");
        }
        Format::Human => {
            let style: &dyn Style = if Colours::wanted() { &Colours } else { &Plain };
            let how = Render {
                style,
                with_sql: args.sql,
            };
            for plan in &plans {
                print!("{}", plan.render(&how));
            }
        }
    }
    t.print(ui, g.timings);
    if args.check {
        let problems: Vec<String> = plans.iter().flat_map(|p| p.problems()).collect();
        if !problems.is_empty() {
            return Err(Error::CheckFailed {
                details: problems.iter().map(|p| format!("\n  {p}")).collect(),
            });
        }
    }
    Ok(if report.changes && args.detailed_exitcode {
        Exit::Changes.into()
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn apply(
    ws: &Workspace,
    args: ApplyArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let cx = Context::new(ws, ui, Target::new(&args.env.env), &t);
    let cells = enabled(ws, g);
    // A saved plan is read before anything runs: a bad file changes nothing.
    let saved = match &args.plan {
        Some(file) => Some(read_plan(file)?),
        None => None,
    };
    let manifest = prepare(&cx, &args.env, &args.cargo, &cells).await?;
    let mut used = false;
    for cell in &cells {
        let how = ApplyOptions {
            build: false,
            yes: args.yes,
            colour: Colours::wanted(),
            allow_destructive: args.safety.allow_destructive,
            saved_plan: args
                .plan
                .as_deref()
                .zip(saved.as_ref())
                .map(|(file, report)| (file, report.cells.get(cell.name()))),
        };
        used |= cell.apply(&cx, &manifest, &how).await?.used;
    }
    if !used {
        ui.info("no Cell attributes in this workspace: nothing to apply");
    }
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
}

fn read_plan(file: &Path) -> Result<PlanReport, Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| cell_core::CoreError::PlanFile {
        path: file.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(file).map_err(|e| fail(Box::new(e)))?;
    Ok(PlanReport::parse(&bytes).map_err(fail)?)
}

/// `cargo cell check`: code against the committed locks, without any Cell running.
pub async fn check(
    ws: &Workspace,
    args: CheckArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let t = Timings::default();
    let start = Instant::now();
    let recording = record_blocking(ws, &args.cargo, ui).await?;
    write_manifest(ws, &recording.manifest)?;
    t.stage("record", start, ());
    let mut problems = Vec::new();
    let mut agreed = Vec::new();
    for cell in enabled(ws, g) {
        let checked = cell.check_offline(ws, &recording.manifest)?;
        problems.extend(checked.problems);
        agreed.extend(checked.agreed);
    }
    t.print(ui, g.timings);
    if problems.is_empty() {
        if agreed.is_empty() {
            println!("No Cell attributes and no locks in this workspace: nothing to check.");
        }
        for line in agreed {
            println!("{line}");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::CheckFailed {
            details: problems.iter().map(|p| format!("\n  {p}")).collect(),
        })
    }
}

//! The subcommands: each goes to the module of its stage ([`build`], [`deploy`],
//! [`lifecycle`], ...), which loops over the registry of Cells ([`crate::registry::cells()`]).

use std::process::ExitCode;

use cell_core::live::Timings;
use cell_core::ui::Ui;

use crate::cli::{CellCli, Command as Cmd, GlobalArgs, ManifestArgs, Parsed};
use crate::error::Error;
use crate::phase1::record_manifest;
use crate::workspace::{self, Workspace};
use crate::{build, deploy, lifecycle};

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
        Cmd::Build(args) => build::build(&ws, args, g, &ui).await,
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

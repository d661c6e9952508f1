//! The command line, in cargo's conventions. Cargo runs `cargo-cell cell <args>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

/// Environment variable overriding where a project made by `cargo cell new` finds cell-runtime.
pub const RUNTIME_PATH_ENV: &str = "CELL_RUNTIME_PATH";

#[derive(Debug, Parser)]
#[command(
    bin_name = "cargo",
    version,
    about = "Build the infrastructure your code declares, then the code against it"
)]
pub enum Cargo {
    /// cargo-cell: infrastructure as part of the build.
    Cell(CellCli),
}

#[derive(Debug, Args)]
#[command(version)]
pub struct CellCli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to Cargo.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// No progress output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show the cargo and Docker steps.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print how long each stage took.
    #[arg(long, global = true)]
    pub timings: bool,
    /// Use the committed locks only: no Docker, no plan, no apply (builds check against the locks).
    #[arg(long, global = true)]
    pub offline: bool,
    /// Build without this Cell's real expansion and without starting it (repeatable); adds to
    /// `[workspace.metadata.cell] disabled = [...]`.
    #[arg(long, global = true, value_name = "CELL", value_parser = crate::registry::cell_parser())]
    pub without: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record the Cell attributes, bring the Cells up, apply the changes, write the locks, build.
    Build(BuildArgs),
    /// Show the infrastructure changes the code asks for, without changing anything.
    Plan(PlanArgs),
    /// Apply the infrastructure changes, without building the code.
    Apply(ApplyArgs),
    /// Start the workspace's Cells (all that the code declares) and wait until they are ready.
    Up(UpArgs),
    /// Stop and remove the workspace's Cell containers (data volumes too with --volumes).
    Down(DownArgs),
    /// Show the workspace's Cells: container, image, port, health, lock.
    Status(StatusArgs),
    /// Show a Cell's container logs.
    Logs(LogsArgs),
    /// Drop a Cell's dev data and create it again (asks first; --yes to skip).
    Reset(ResetArgs),
    /// `cargo run` with the Cells up and their endpoints in the environment (CELL_POSTGRES_URL, ...).
    Run(RunArgs),
    /// `cargo test` with the Cells up and their endpoints in the environment.
    Test(RunArgs),
    /// Create a new project from a template.
    New(NewArgs),
    /// Print a shell completion script (`cargo cell completions bash > ...`).
    Completions(CompletionsArgs),
    /// Record the Cell attributes and print the manifest (JSON) without touching any Cell.
    Manifest(ManifestArgs),
    /// Check, without any database, that the code and the committed locks agree (for CI).
    Check(CheckArgs),
}

/// A parsed command line: one of cargo-cell's own commands, or a Cell's (`cargo cell auth
/// token`), which the Cell parses and runs.
pub enum Parsed {
    Core(CellCli),
    Cell {
        cell: &'static dyn cell_core::LiveCell,
        command: String,
        matches: clap::ArgMatches,
        global: GlobalArgs,
    },
}

/// The whole command line: cargo-cell's commands and every Cell's.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cargo = Cargo::command();
    for cell in crate::registry::cells() {
        for sub in cell.commands() {
            cargo = cargo.mut_subcommand("cell", |c| c.subcommand(sub));
        }
    }
    cargo
}

/// Parses `args` (the whole command line, `cargo cell ...`).
pub fn try_parse_from<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let matches = command().try_get_matches_from(args)?;
    let Some(("cell", cell_matches)) = matches.subcommand() else {
        // `bin_name = "cargo"` with one subcommand: clap has refused anything else.
        return Cargo::from_arg_matches(&matches).map(|Cargo::Cell(cli)| Parsed::Core(cli));
    };
    if let Some((name, sub)) = cell_matches.subcommand()
        && let Some(cell) = crate::registry::cells()
            .iter()
            .find(|c| c.commands().iter().any(|c| c.get_name() == name))
    {
        return Ok(Parsed::Cell {
            cell: *cell,
            command: name.to_string(),
            matches: sub.clone(),
            global: GlobalArgs::from_arg_matches(cell_matches)?,
        });
    }
    Cargo::from_arg_matches(&matches).map(|Cargo::Cell(cli)| Parsed::Core(cli))
}

/// Parses the process's command line. `--help` and `--version` print and exit 0, as clap
/// does; a wrong command line prints clap's message and exits with
/// [`Exit::Usage`](crate::exit::Exit::Usage) (not clap's 2, which `plan --detailed-exitcode`
/// gives to changes).
pub fn parse() -> Parsed {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| {
        if !e.use_stderr() {
            e.exit()
        }
        let _ = e.print();
        std::process::exit(crate::exit::Exit::Usage.code().into())
    })
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
}

/// Which infrastructure a plan or apply talks to.
#[derive(Debug, Clone, Args)]
pub struct EnvArgs {
    /// The environment: `dev` (the Docker Cells) or another name from
    /// `[workspace.metadata.cell.environments]`, whose endpoints come from environment
    /// variables (CELL_POSTGRES_URL by default), never from disk.
    #[arg(long = "env", value_name = "NAME", default_value = "dev")]
    pub env: String,
    /// Use this manifest (from `cargo cell build`: target/cell/manifest.json) instead of
    /// recording the workspace: applies exactly what was built.
    #[arg(long = "manifest", value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
}

/// What is handed to cargo: the same selection flags cargo takes.
#[derive(Debug, Clone, Default, Args)]
pub struct CargoArgs {
    /// Package to build (phase 2; every workspace crate is always recorded).
    #[arg(short, long, value_name = "SPEC")]
    pub package: Vec<String>,
    /// Build in release mode.
    #[arg(long)]
    pub release: bool,
    /// Features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the default feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Arguments passed to `cargo build` as they are.
    #[arg(last = true, value_name = "CARGO_ARGS")]
    pub rest: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct SafetyArgs {
    /// Allow steps that lose data (dropping tables or columns, narrowing types).
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
    /// Also write the recorded manifest here (it is always in target/cell/manifest.json),
    /// as an artifact for `cargo cell apply --manifest FILE`.
    #[arg(long, value_name = "FILE")]
    pub emit_manifest: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Show the SQL of each step.
    #[arg(long)]
    pub sql: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// For CI: fail (exit 1) when code, lock and database disagree in any way.
    #[arg(long, conflicts_with = "detailed_exitcode")]
    pub check: bool,
    /// Output format; `json` is documented in docs/plan-format.md.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Save the plan (JSON) for `cargo cell apply FILE`, which applies exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cargo: CargoArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `cargo cell plan --out FILE`: apply exactly it, and refuse it if the
    /// database changed since it was made.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Apply without asking (required when there is no terminal to ask on).
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub safety: SafetyArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cargo: CargoArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove the data volumes too (the dev data is lost).
    #[arg(long)]
    pub volumes: bool,
    /// Only these Cells (all of the workspace's when none is named).
    #[arg(value_name = "CELL", value_parser = crate::registry::cell_parser())]
    pub cells: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Only these Cells (default: those the workspace uses).
    #[arg(value_name = "CELL", value_parser = crate::registry::cell_parser())]
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
/// How `cargo cell status` prints.
pub enum StatusFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The Cell.
    #[arg(value_parser = crate::registry::cell_parser())]
    pub cell: String,
    /// Keep printing new lines as they come.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The Cell whose dev data is dropped and created again.
    #[arg(value_parser = crate::registry::cell_parser())]
    pub cell: String,
    /// Do not ask.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Template {
    /// One table and a binary.
    #[default]
    Minimal,
    /// An axum HTTP service over a table, with route tests.
    Api,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Where to create the project; its last component is the package name.
    pub path: PathBuf,
    /// The template.
    #[arg(long, value_enum, default_value_t = Template::Minimal)]
    pub template: Template,
    /// Package name, when not the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The cell-runtime crate the project depends on, by path.
    #[arg(long, value_name = "PATH", env = RUNTIME_PATH_ENV)]
    pub runtime_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cargo, clap::Error> {
        match try_parse_from(line.split_whitespace())? {
            Parsed::Core(cli) => Ok(Cargo::Cell(cli)),
            Parsed::Cell { .. } => Cargo::try_parse_from(["cargo", "cell", "--a-cell-command"]),
        }
    }

    fn parses_as_cell_command(line: &str) -> bool {
        matches!(
            try_parse_from(line.split_whitespace()),
            Ok(Parsed::Cell { .. })
        )
    }

    #[test]
    fn definition_is_consistent() {
        Cargo::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn valid_command_lines() {
        for line in [
            "cargo cell build",
            "cargo cell build --release -p users --features a,b",
            "cargo cell build --manifest-path x/Cargo.toml -- --locked",
            "cargo cell build --allow-destructive",
            "cargo cell plan --sql --detailed-exitcode",
            "cargo cell apply --allow-destructive -q",
            "cargo cell up -v",
            "cargo cell down --volumes",
            "cargo cell status",
            "cargo cell manifest --features x",
            "cargo cell plan --format json --out plan.json",
            "cargo cell plan --check --env prod",
            "cargo cell apply --env prod --yes",
            "cargo cell apply plan.json --yes --env prod",
            "cargo cell apply --manifest target/cell/manifest.json --env staging -y",
            "cargo cell build --emit-manifest out/manifest.json",
            "cargo cell check",
            "cargo cell check -p app --features x",
            "cargo cell up postgres",
            "cargo cell up postgres --without postgres",
            "cargo cell down postgres --volumes",
            "cargo cell status --format json",
            "cargo cell status --format text",
            "cargo cell logs postgres",
            "cargo cell logs postgres -f --tail 50",
            "cargo cell reset postgres --yes",
            "cargo cell reset postgres",
            "cargo cell run",
            "cargo cell run -- --bin demo -- health",
            "cargo cell test -p demo --release -- my_test -- --nocapture",
            "cargo cell test -q -- a_test",
            "cargo cell new demo",
            "cargo cell new demo --template api",
            "cargo cell new demo --template minimal --runtime-path ../cell-runtime",
            "cargo cell new demo --name other-name",
            "cargo cell completions bash",
            "cargo cell completions zsh",
            "cargo cell completions fish",
            "cargo cell build --offline",
            "cargo cell --offline build",
            "cargo cell build --without postgres",
            "cargo cell build --without postgres --without postgres",
        ] {
            parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        // A Cell's own commands are parsed by the Cell.
        for line in [
            "cargo cell auth token --role admin --role support --sub alice",
            "cargo cell auth token --ttl -60 --aud other",
            "cargo cell --manifest-path x/Cargo.toml auth token",
        ] {
            assert!(parses_as_cell_command(line), "{line}");
        }
    }

    #[test]
    fn invalid_command_lines() {
        for line in [
            "cargo cell",
            "cargo cell launch",
            "cargo cell plan --allow-destructive",
            "cargo build",
            "cargo cell plan --format yaml",
            "cargo cell plan --check --detailed-exitcode",
            "cargo cell apply a.json b.json",
            "cargo cell check --allow-destructive",
            "cargo cell apply --env",
            "cargo cell up mysql",
            "cargo cell down --volumes mysql",
            "cargo cell status --format yaml",
            "cargo cell logs",
            "cargo cell logs mysql",
            "cargo cell logs postgres --tail many",
            "cargo cell reset",
            "cargo cell reset postgres --force",
            "cargo cell run --allow-destructive",
            "cargo cell new",
            "cargo cell new demo --template huge",
            "cargo cell new demo extra",
            "cargo cell completions",
            "cargo cell completions tcsh",
            "cargo cell build --without",
            "cargo cell build --without mysql",
            "cargo cell status --offline=yes",
        ] {
            assert!(parse(line).is_err(), "{line} should not parse");
        }
    }

    #[test]
    fn parsed_values() {
        let Cargo::Cell(cli) = parse("cargo cell run -p demo -- --bin demo -- health").unwrap();
        let Command::Run(r) = cli.command else {
            panic!()
        };
        assert_eq!(r.cargo.package, ["demo"]);
        assert_eq!(r.cargo.rest, ["--bin", "demo", "--", "health"]);

        let Cargo::Cell(cli) = parse("cargo cell new demo --template api").unwrap();
        let Command::New(n) = cli.command else {
            panic!()
        };
        assert_eq!(n.path, std::path::PathBuf::from("demo"));
        assert_eq!(n.template, Template::Api);
        let Cargo::Cell(cli) = parse("cargo cell new demo").unwrap();
        let Command::New(n) = cli.command else {
            panic!()
        };
        assert_eq!(n.template, Template::Minimal);

        let Cargo::Cell(cli) = parse("cargo cell status --format json -v").unwrap();
        assert!(cli.global.verbose);
        let Command::Status(st) = cli.command else {
            panic!()
        };
        assert_eq!(st.format, StatusFormat::Json);

        let Cargo::Cell(cli) = parse("cargo cell logs postgres -f").unwrap();
        let Command::Logs(l) = cli.command else {
            panic!()
        };
        assert!(l.follow);
        assert_eq!(l.cell, "postgres");

        let Cargo::Cell(cli) = parse("cargo cell build --offline --without postgres").unwrap();
        assert!(cli.global.offline);
        assert_eq!(cli.global.without, ["postgres"]);
    }

    /// Every Cell name is accepted wherever a Cell is named, and parses to that name.
    #[test]
    fn every_cell_name_is_accepted_where_a_cell_is_named() {
        for cell in crate::registry::names() {
            for (line, named) in [
                (format!("cargo cell up {cell}"), "up"),
                (format!("cargo cell down {cell} --volumes"), "down"),
                (format!("cargo cell logs {cell} -f"), "logs"),
                (format!("cargo cell reset {cell} --yes"), "reset"),
                (format!("cargo cell build --without {cell}"), "without"),
                (format!("cargo cell test --without {cell}"), "without"),
            ] {
                let Cargo::Cell(cli) = parse(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
                let got: Vec<String> = match (named, cli.command) {
                    ("up", Command::Up(a)) => a.cells,
                    ("down", Command::Down(a)) => a.cells,
                    ("logs", Command::Logs(a)) => vec![a.cell],
                    ("reset", Command::Reset(a)) => vec![a.cell],
                    ("without", _) => cli.global.without,
                    (_, other) => panic!("{line}: parsed as {other:?}"),
                };
                assert_eq!(got, [cell], "{line}");
            }
        }
        let Cargo::Cell(cli) =
            parse("cargo cell up postgres redis auth telemetry --without telemetry").unwrap();
        let Command::Up(up) = cli.command else {
            panic!()
        };
        assert_eq!(up.cells, ["postgres", "redis", "auth", "telemetry"]);
        assert_eq!(cli.global.without, ["telemetry"]);
        for line in [
            "cargo cell up prometheus",
            "cargo cell logs jwt",
            "cargo cell build --without tracing",
        ] {
            assert!(parse(line).is_err(), "{line} should not parse");
        }
    }

    #[test]
    fn trailing_args_go_to_cargo() {
        let Cargo::Cell(cli) = parse("cargo cell build -- --locked --offline").unwrap();
        let Command::Build(b) = cli.command else {
            panic!()
        };
        assert_eq!(b.cargo.rest, ["--locked", "--offline"]);
    }
}

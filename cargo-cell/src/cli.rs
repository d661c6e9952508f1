//! The command line, in cargo's conventions. Cargo runs `cargo-cell cell <args>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Up,
    /// Stop and remove the workspace's Cell containers (data volumes too with --volumes).
    Down(DownArgs),
    /// Show the workspace's Cells.
    Status,
    /// Record the Cell attributes and print the manifest (JSON) without touching any Cell.
    Manifest(ManifestArgs),
    /// The Auth Cell: `cargo cell auth token --role admin --sub alice` mints a dev token.
    Auth(crate::auth::AuthArgs),
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
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Show the SQL of each step.
    #[arg(long)]
    pub sql: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub cargo: CargoArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub safety: SafetyArgs,
    #[command(flatten)]
    pub cargo: CargoArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove the data volumes too (the dev data is lost).
    #[arg(long)]
    pub volumes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cargo, clap::Error> {
        Cargo::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn definition_is_consistent() {
        Cargo::command().debug_assert();
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
            "cargo cell auth token --role admin --role support --sub alice",
            "cargo cell auth token --ttl -60 --aud other",
        ] {
            parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }

    #[test]
    fn invalid_command_lines() {
        for line in [
            "cargo cell",
            "cargo cell launch",
            "cargo cell plan --allow-destructive",
            "cargo build",
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

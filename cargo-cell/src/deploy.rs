//! The schema engine's commands: `plan`, `apply` and `check`, and the converge step of
//! `build`. The same code serves the dev Cells (Docker) and deployment environments (an
//! endpoint from an environment variable, no Docker, no rebuild).

use cell_lockfile::LockFile as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use cell_postgres::declare::{self, Desired, TableDecl};
use cell_postgres::lock::Lock;
use cell_postgres::plan::Plan;
use cell_postgres::{check, live};

use crate::cli::{ApplyArgs, CargoArgs, CheckArgs, EnvArgs, Format, GlobalArgs, PlanArgs};
use crate::commands::{Timings, record_and_up, write_manifest};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::postgres::{self, Planned};
use crate::record;
use crate::report::{Colours, PlanReport, render_postgres};
use crate::ui::Ui;
use crate::workspace::Workspace;

/// The environment variable holding the Postgres URL of a deployment environment, unless
/// `[workspace.metadata.cell.environments.<name>] postgres_url_env` names another.
pub const DEFAULT_URL_VAR: &str = "CELL_POSTGRES_URL";

/// Where plan and apply run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The workspace's Docker Cells.
    Dev,
    /// A deployment environment: its endpoint comes from an environment variable.
    Remote { env: String, var: String },
}

impl Target {
    pub fn new(ws: &Workspace, env: &str) -> Target {
        if env == "dev" {
            return Target::Dev;
        }
        let var = ws
            .config
            .get("environments")
            .and_then(|e| e.get(env))
            .and_then(|e| e.get("postgres_url_env"))
            .and_then(|v| v.as_str())
            .unwrap_or(DEFAULT_URL_VAR)
            .to_string();
        Target::Remote {
            env: env.to_string(),
            var,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Dev => "dev",
            Target::Remote { env, .. } => env,
        }
    }

    fn label(&self) -> String {
        match self {
            Target::Dev => "the dev Postgres Cell".into(),
            Target::Remote { env, .. } => format!("the `{env}` database"),
        }
    }
}

/// The manifest to plan from, and a client of the target's database (none when the
/// workspace declares nothing and has no Cell yet).
struct Prepared {
    manifest: Manifest,
    client: Option<tokio_postgres::Client>,
    /// The Redis Cell's plan (applied when asked), on the dev target when it has one.
    redis: Option<crate::redis::Converged>,
}

fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::ManifestFile {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(Box::new(e)))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(Box::new(e)))
}

async fn connect_remote(env: &str, var: &str) -> Result<tokio_postgres::Client, Error> {
    let url = std::env::var(var)
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::NoEndpoint {
            env: env.to_string(),
            var: var.to_string(),
        })?;
    let tls = cell_postgres::tls::connector().map_err(|source| Error::TlsConfig { source })?;
    postgres::connect_with(&url, tls).await.map_err(|source| {
        let (env, url, var) = (
            env.to_string(),
            cell_postgres::cell::redact(&url),
            var.to_string(),
        );
        if cell_postgres::tls::is_certificate_error(&source) {
            Error::EnvCertificate {
                env,
                url,
                var,
                source,
            }
        } else {
            Error::EnvConnect {
                env,
                url,
                var,
                source,
            }
        }
    })
}

/// The manifest and the target's Postgres client; on the dev target also the Redis Cell,
/// started beside the record step and converged (`apply_redis`) or only planned.
async fn prepare(
    ws: &Workspace,
    target: &Target,
    env: &EnvArgs,
    cargo: &CargoArgs,
    apply_redis: bool,
    ui: &Ui,
    t: &mut Timings,
) -> Result<Prepared, Error> {
    let redis_early = (*target == Target::Dev)
        .then(|| crate::redis::start_early(ws, ui))
        .flatten();
    let mut prepared = prepare_postgres(ws, target, env, cargo, ui, t).await?;
    if *target == Target::Dev {
        prepared.redis =
            crate::redis::converge(ws, &prepared.manifest, redis_early, apply_redis, ui).await?;
    }
    Ok(prepared)
}

async fn prepare_postgres(
    ws: &Workspace,
    target: &Target,
    env: &EnvArgs,
    cargo: &CargoArgs,
    ui: &Ui,
    t: &mut Timings,
) -> Result<Prepared, Error> {
    match (target, &env.manifest) {
        (Target::Dev, None) => {
            let (recording, live) = record_and_up(ws, cargo, ui, t).await?;
            Ok(Prepared {
                manifest: recording.manifest,
                client: live.map(|l| l.client),
                redis: None,
            })
        }
        (Target::Dev, Some(file)) => {
            let manifest = read_manifest(file)?;
            let start = Instant::now();
            let live = crate::commands::bring_up(ws, ui).await?;
            t.stage("up", start, ());
            Ok(Prepared {
                manifest,
                client: Some(live.client),
                redis: None,
            })
        }
        (Target::Remote { env, var }, manifest) => {
            let start = Instant::now();
            let client = connect_remote(env, var).await?;
            t.stage("connect", start, ());
            let manifest = match manifest {
                Some(file) => read_manifest(file)?,
                None => {
                    let start = Instant::now();
                    let recording = {
                        let (ws, cargo, ui) = (ws.clone(), cargo.clone(), ui.clone());
                        tokio::task::spawn_blocking(move || record::record(&ws, &cargo, &ui))
                            .await
                            .expect("record task")?
                    };
                    write_manifest(ws, &recording.manifest)?;
                    t.stage("record", start, recording.manifest)
                }
            };
            Ok(Prepared {
                manifest,
                client: Some(client),
                redis: None,
            })
        }
    }
}

pub async fn plan(
    ws: &Workspace,
    args: PlanArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let target = Target::new(ws, &args.env.env);
    let prepared = prepare(ws, &target, &args.env, &args.cargo, false, ui, &mut t).await?;
    let redis_plan = prepared.redis;
    let planned = match prepared.client {
        Some(mut client) if !prepared.manifest.is_empty() || target != Target::Dev => {
            let start = Instant::now();
            let planned = postgres::plan(
                ws,
                &mut client,
                &prepared.manifest.postgres,
                &prepared.manifest.postgres_enums,
            )
            .await?;
            Some(t.stage("plan", start, planned))
        }
        _ => None,
    };
    let mut report = PlanReport::new(target.name(), planned.as_ref());
    let auth_plan = crate::auth::plan(ws, &prepared.manifest.auth)?;
    if !auth_plan.is_empty() {
        report.changes = true;
    }
    if let Some(r) = &redis_plan {
        report.changes |= !r.plan.is_empty();
        report.cells.insert(
            "redis".into(),
            serde_json::to_value(&r.plan).expect("redis plan serialises"),
        );
    }
    if !prepared.manifest.auth.is_empty() || !auth_plan.is_empty() {
        report.cells.insert(
            "auth".into(),
            serde_json::to_value(&auth_plan).expect("auth plan serialises"),
        );
    }
    let telemetry_plan = if crate::telemetry::wanted(ws, &prepared.manifest.telemetry) {
        let plan = crate::telemetry::plan(ws, &prepared.manifest.telemetry)?;
        report.add_telemetry(&plan);
        Some(plan)
    } else {
        None
    };
    if let Some(out) = &args.out {
        std::fs::write(out, report.to_json()).map_err(|source| Error::Write {
            path: out.clone(),
            source,
        })?;
        ui.info(&format!("plan saved to {}", out.display()));
    }
    match (args.format, &planned) {
        (Format::Json, _) => print!("{}", report.to_json()),
        (Format::Human, Some(p)) => {
            print!("{}", render_postgres(p, args.sql, Colours::wanted()));
            crate::redis::print_plan(&redis_plan);
            crate::auth::print_plan(ws, &prepared.manifest.auth)?;
        }
        (Format::Human, None) => {
            let redis = crate::redis::print_plan(&redis_plan);
            if !crate::auth::print_plan(ws, &prepared.manifest.auth)?
                && !redis
                && prepared.manifest.auth.is_empty()
                && prepared.manifest.redis.is_empty()
                && telemetry_plan.is_none()
            {
                println!("No Cell attributes in this workspace: nothing to plan.");
            }
        }
    }
    if args.format == Format::Human
        && let Some(plan) = &telemetry_plan
    {
        print!("{}", plan.render());
    }
    t.print(ui, g.timings);
    if args.check
        && let Some(p) = &planned
    {
        let mut problems = Vec::new();
        if !p.plan.is_empty() {
            problems.push(format!(
                "the database differs from the code: {}",
                p.plan.summary()
            ));
        }
        if !p.drift.is_empty() {
            problems.push("the database changed outside cargo-cell (drift, shown above)".into());
        }
        if redis_plan.as_ref().is_some_and(|r| !r.plan.is_empty()) {
            problems.push("the caches differ from the redis lock".into());
        }
        if !auth_plan.is_empty() {
            problems.push(format!(
                "permissions differ from the auth lock: {}",
                auth_plan.summary()
            ));
        }
        if telemetry_plan.as_ref().is_some_and(|p| !p.is_empty()) {
            problems.push("the metrics and spans differ from the telemetry lock".into());
        }
        if target == Target::Dev
            && p.previous_lock.as_ref().and_then(|l| l.declared.as_ref())
                != Some(&p.declared_fingerprint)
        {
            problems.push("the lock was not written from this code".into());
        }
        if !problems.is_empty() {
            return Err(Error::CheckFailed {
                details: problems.iter().map(|p| format!("\n  {p}")).collect(),
            });
        }
    }
    Ok(if report.changes && args.detailed_exitcode {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks on the terminal, or refuses when there is none: nothing ever waits on a prompt
/// that nobody can answer.
fn confirm(yes: bool, target: &Target) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    let label = target.label();
    if !std::io::stdin().is_terminal() {
        return Err(Error::ConfirmationRequired { target: label });
    }
    eprint!("Apply these changes to {label}? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled { target: label })
    }
}

pub async fn apply(
    ws: &Workspace,
    args: ApplyArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let target = Target::new(ws, &args.env.env);
    let prepared = prepare(ws, &target, &args.env, &args.cargo, true, ui, &mut t).await?;
    if target == Target::Dev {
        // `--without` (and `disabled`) Cells are neither started nor locked, as in `build`.
        let off = crate::lifecycle::disabled(ws, g);
        let on = |cell: &str| !off.iter().any(|d| d == cell);
        if on(cell_auth::CELL_NAME) {
            crate::auth::converge(ws, &prepared.manifest.auth, ui).await?;
        }
        if on(cell_telemetry::CELL_NAME) {
            crate::telemetry::converge(ws, &prepared.manifest.telemetry, ui).await?;
        }
    }
    let Some(mut client) = prepared.client.filter(|_| !prepared.manifest.is_empty()) else {
        if crate::telemetry::wanted(ws, &prepared.manifest.telemetry) {
            return Ok(ExitCode::SUCCESS);
        }
        ui.info("no Cell attributes in this workspace: nothing to apply");
        return Ok(ExitCode::SUCCESS);
    };
    postgres::lock(&client, &target.label()).await?;
    let result = apply_locked(
        ws,
        &args,
        &target,
        &prepared.manifest,
        &mut client,
        ui,
        &mut t,
    )
    .await;
    // Also released when the connection closes; unlocking early lets a waiting apply go on.
    let _ = postgres::unlock(&client).await;
    result?;
    t.print(ui, g.timings);
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    ws: &Workspace,
    args: &ApplyArgs,
    target: &Target,
    manifest: &Manifest,
    client: &mut tokio_postgres::Client,
    ui: &Ui,
    t: &mut Timings,
) -> Result<(), Error> {
    let start = Instant::now();
    let mut planned =
        postgres::plan(ws, client, &manifest.postgres, &manifest.postgres_enums).await?;
    if let Some(file) = &args.plan {
        use_saved_plan(file, &mut planned, client).await?;
    }
    t.stage("plan", start, ());
    print!("{}", render_postgres(&planned, false, Colours::wanted()));
    if !planned.plan.is_empty() {
        postgres::check_safety(&planned, args.safety.allow_destructive)?;
        confirm(args.yes, target)?;
        let start = Instant::now();
        postgres::apply(client, &planned.plan).await?;
        t.stage("apply", start, ());
        ui.info(&format!(
            "postgres: applied {} to {}",
            planned.plan.summary(),
            target.label()
        ));
    }
    match target {
        Target::Dev => {
            let (written, _) = postgres::write_lock(ws, client, &planned).await?;
            if written {
                ui.info(&format!(
                    "postgres: wrote {}",
                    postgres::lock_path(ws).display()
                ));
            }
        }
        // The lock describes the dev Cell the code was built against; another environment
        // is compared with it, never written to it.
        Target::Remote { env, .. } => {
            if let Some(lock) = &planned.previous_lock {
                let tables: Vec<String> = lock.tables.keys().cloned().collect();
                let enums: Vec<String> = lock.enums.keys().cloned().collect();
                let now = live::introspect(&*client, &tables, &enums)
                    .await
                    .map_err(|source| Error::Postgres {
                        cell: env.clone(),
                        source,
                    })?;
                if now.tables != lock.tables || now.enums != lock.enums {
                    ui.warn(&format!(
                        "the `{env}` schema now differs from .cell/postgres.lock.json: the lock was written from other declarations; run `cargo cell build` and commit .cell/"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Swaps the fresh plan for a saved one, if the database is still in the state the saved
/// plan was made from.
async fn use_saved_plan(
    file: &Path,
    planned: &mut Planned,
    client: &tokio_postgres::Client,
) -> Result<(), Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::PlanFile {
        path: file.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(file).map_err(|e| fail(Box::new(e)))?;
    let report = PlanReport::parse(&bytes).map_err(fail)?;
    let saved = report
        .postgres()
        .map_err(|e| fail(Box::new(e)))?
        .ok_or_else(|| fail("the plan has no postgres section".into()))?;
    let live = planned.live.fingerprint();
    if saved.live_fingerprint != live {
        return Err(Error::StalePlan {
            path: file.to_path_buf(),
            planned: saved.live_fingerprint,
            live,
        });
    }
    planned.plan = Plan { steps: saved.steps };
    planned.counts = live::count_rows(client, &planned.plan, &planned.live).await;
    Ok(())
}

/// `build`'s step: plan, refuse what is unsafe, apply, lock; under the schema lock.
/// Returns whether the lock file was created by this run.
pub(crate) async fn converge(
    ws: &Workspace,
    manifest: &Manifest,
    client: &mut tokio_postgres::Client,
    allow_destructive: bool,
    ui: &Ui,
    t: &mut Timings,
) -> Result<bool, Error> {
    postgres::lock(client, &Target::Dev.label()).await?;
    let result = converge_locked(ws, manifest, client, allow_destructive, ui, t).await;
    let _ = postgres::unlock(client).await;
    result
}

async fn converge_locked(
    ws: &Workspace,
    manifest: &Manifest,
    client: &mut tokio_postgres::Client,
    allow_destructive: bool,
    ui: &Ui,
    t: &mut Timings,
) -> Result<bool, Error> {
    let start = Instant::now();
    let planned = postgres::plan(ws, client, &manifest.postgres, &manifest.postgres_enums).await?;
    t.stage("plan", start, ());
    let start = Instant::now();
    if !planned.drift.is_empty() {
        ui.warn(&format!(
            "postgres: the database changed outside cargo-cell since the lock was written:\n{}",
            planned.drift.render(false).trim_end()
        ));
    }
    if planned.plan.is_empty() {
        ui.info("postgres: no changes");
    } else {
        postgres::check_safety(&planned, allow_destructive)?;
        postgres::apply(client, &planned.plan).await?;
        ui.info(&format!(
            "postgres: applied {}\n{}",
            planned.plan.summary(),
            planned
                .plan
                .render_styled(false, &cell_postgres::plan::Plain, &planned.notes())
                .trim_end()
        ));
    }
    let (written, existed) = postgres::write_lock(ws, client, &planned).await?;
    if written {
        ui.info(&format!(
            "postgres: wrote {}",
            postgres::lock_path(ws).display()
        ));
    }
    t.stage("apply", start, ());
    Ok(written && !existed && planned.previous_lock.is_none())
}

/// `cargo cell check`: code against the committed locks, without any database.
pub async fn check(
    ws: &Workspace,
    args: CheckArgs,
    g: &GlobalArgs,
    ui: &Ui,
) -> Result<ExitCode, Error> {
    let mut t = Timings::default();
    let start = Instant::now();
    let recording = {
        let (ws, cargo, ui) = (ws.clone(), args.cargo.clone(), ui.clone());
        tokio::task::spawn_blocking(move || record::record(&ws, &cargo, &ui))
            .await
            .expect("record task")?
    };
    write_manifest(ws, &recording.manifest)?;
    t.stage("record", start, ());
    let manifest = &recording.manifest;
    let lock = Lock::read(&postgres::lock_path(ws))?;
    let decls = postgres::resolve_enums(&manifest.postgres, &manifest.postgres_enums)?;
    let desired = declare::desired(&decls, &manifest.postgres_enums);
    let mut problems = code_against_lock(&decls, &desired, lock.as_ref());
    let redis = crate::redis::check(ws, manifest)?;
    if !redis.is_empty() {
        problems.push(format!(
            "caches differ from .cell/redis.lock.json: {}",
            redis.summary()
        ));
    }
    let auth = crate::auth::plan(ws, &manifest.auth)?;
    if !auth.is_empty() {
        problems.push(format!(
            "permissions differ from .cell/auth.lock.json: {}",
            auth.summary()
        ));
    }
    t.print(ui, g.timings);
    if problems.is_empty() {
        println!(
            "postgres: code and lock agree ({} table{})",
            manifest.postgres.len(),
            if manifest.postgres.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::CheckFailed {
            details: problems.iter().map(|p| format!("\n  {p}")).collect(),
        })
    }
}

/// What differs between the declarations and the lock, for people; empty when they agree.
/// Exact when the lock records the declared fingerprint; otherwise column by column.
pub fn code_against_lock(
    decls: &[TableDecl],
    desired: &Desired,
    lock: Option<&Lock>,
) -> Vec<String> {
    let Some(lock) = lock else {
        return if decls.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "there is no .cell/postgres.lock.json, but the code declares {} table(s)",
                decls.len()
            )]
        };
    };
    let fingerprint = desired.schema.fingerprint();
    if lock.declared.as_deref() == Some(fingerprint.as_str()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for decl in decls {
        let locked = lock.tables.get(&decl.name);
        let view = check::Locked {
            tables: &lock.tables,
            enums: &lock.enums,
        };
        for m in check::against_lock(decl, view) {
            out.push(m.message);
        }
        if let (Some(locked), Some(want)) = (locked, desired.schema.tables.get(&decl.name)) {
            if locked.indexes != want.indexes {
                out.push(format!(
                    "table `{}`: indexes differ from the lock",
                    decl.name
                ));
            }
            if locked.foreign_keys != want.foreign_keys {
                out.push(format!(
                    "table `{}`: foreign keys differ from the lock",
                    decl.name
                ));
            }
            if locked.checks.keys().ne(want.checks.keys()) {
                out.push(format!(
                    "table `{}`: checks differ from the lock",
                    decl.name
                ));
            }
        }
    }
    for name in lock.tables.keys() {
        if !desired.schema.tables.contains_key(name) {
            out.push(format!(
                "table `{name}` is in the lock, but no struct declares it"
            ));
        }
    }
    if lock.enums != desired.schema.enums {
        out.push("enum types differ from the lock".into());
    }
    if out.is_empty() && lock.declared.is_some() {
        out.push(
            "the declarations changed since the lock was written (a default, most likely)".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str) -> TableDecl {
        TableDecl {
            rust_name: "T".into(),
            name: name.into(),
            columns: vec![cell_postgres::declare::ColumnDecl {
                name: "id".into(),
                rust_type: "i64".into(),
                sql_type: "bigint".into(),
                nullable: false,
                primary_key: true,
                index: None,
                default: None,
                foreign_key: None,
                renamed_from: None,
                enum_type: None,
            }],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
        }
    }

    #[test]
    fn code_and_lock_agree_exactly_by_fingerprint() {
        let decls = vec![decl("a")];
        let desired = declare::desired(&decls, &[]);
        let mut lock = Lock::from_schema(desired.schema.clone());
        lock.declared = Some(desired.schema.fingerprint());
        assert!(code_against_lock(&decls, &desired, Some(&lock)).is_empty());

        let more = vec![decl("a"), decl("b")];
        let desired_more = declare::desired(&more, &[]);
        let problems = code_against_lock(&more, &desired_more, Some(&lock));
        assert_eq!(
            problems,
            ["table `b` (struct `T`) is not in .cell/postgres.lock.json"]
        );
        let problems = code_against_lock(&[], &declare::desired(&[], &[]), Some(&lock));
        assert_eq!(
            problems,
            ["table `a` is in the lock, but no struct declares it"]
        );
        assert_eq!(code_against_lock(&decls, &desired, None).len(), 1);
    }
}

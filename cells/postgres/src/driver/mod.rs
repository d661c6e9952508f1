//! The Postgres Cell's live side ([`LiveCell`]): its container, readiness (a real login and
//! query), plan and apply under the advisory lock, the lock file. On a deployment target
//! (`--env NAME`) the same plan and apply run against the database whose URL the
//! environment gives, through TLS, and never write the lock.

mod describe;
pub mod grants;
pub mod keys;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cell_core::docker::RunningCell;
use cell_core::live::{BoxError, ContainerSpec};
use cell_core::lockfile::LockFile as _;
use cell_core::plan::{CellPlan, Plain, Render, ReviewFlag, Summary};
use cell_core::prompt::{self, Answer};
use cell_core::{
    Applied, ApplyOptions, CellError, Context, Endpoint, LiveCell, Manifest, Target, Workspace,
};
use serde::{Deserialize, Serialize};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{NoTls, Socket};

use crate::cell;
use crate::cell_impl::{PostgresCell, URL_ENV, resolve_enums, section};
use crate::declare::{self, Desired, EnumDecl, TableDecl};
use crate::error::PostgresError;
use crate::lock::Lock;
use crate::plan::{self, Plan};
use crate::schema::Schema;
use crate::{CELL_NAME, LOCK_FILE, live, roles, safety};

pub use report::{ChangeReport, PostgresReport, RefusalReport, postgres_report, render};

/// The dev Cell's connection details, in `.cell/state/postgres.json` (git-ignored): the
/// owner's (`url`, `user`, `password`: migrations) and the application's login role's
/// (`app_*`: the runtime, `cargo cell run` and `test`). A state written before the
/// application role existed has no `app_*`; the next `up` or `build` adds them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub url: String,
    pub user: String,
    pub password: String,
    pub database: String,
    pub container_id: String,
    pub host_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
}

impl State {
    /// The state of a running container whose superuser has `password` and whose
    /// application login role has `app_password`.
    fn of(password: String, app_password: Option<String>, running: &RunningCell) -> State {
        let port = running.host_port;
        State {
            url: cell::url(cell::USER, &password, port, cell::DATABASE),
            user: cell::USER.into(),
            password,
            database: cell::DATABASE.into(),
            container_id: running.container_id.clone(),
            host_port: port,
            app_url: app_password
                .as_deref()
                .map(|p| cell::url(roles::DEV_LOGIN_ROLE, p, port, cell::DATABASE)),
            app_user: app_password.is_some().then(|| roles::DEV_LOGIN_ROLE.into()),
            app_password,
        }
    }

    fn from_endpoint(endpoint: &Endpoint) -> Option<State> {
        serde_json::from_slice(endpoint.state.as_deref()?).ok()
    }
}

fn read_state(ws: &Workspace) -> Option<State> {
    cell_core::state::read(ws, CELL_NAME)
}

/// The password a data volume was initialised with cannot change: the one the existing
/// container runs with, then the state file's.
fn known_password(ws: &Workspace, existing: Option<&RunningCell>) -> Option<String> {
    existing
        .and_then(|c| c.env_var("POSTGRES_PASSWORD").map(str::to_string))
        .or_else(|| read_state(ws).map(|s| s.password))
}

/// The environment variable holding the Postgres URL of a deployment environment (the one
/// the application connects with), unless
/// `[workspace.metadata.cell.environments.<name>] postgres_url_env` names another.
pub const DEFAULT_URL_VAR: &str = URL_ENV;

/// The environment variable holding the URL migrations run with (the tables' owner), unless
/// `[workspace.metadata.cell.environments.<name>] postgres_owner_url_env` names another.
/// When it is unset, migrations use the application's URL, as before there were two.
pub const DEFAULT_OWNER_URL_VAR: &str = "CELL_POSTGRES_OWNER_URL";

fn env_setting(ws: &Workspace, env: &str, key: &str) -> Option<String> {
    ws.config
        .get("environments")
        .and_then(|e| e.get(env))
        .and_then(|e| e.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The variable a deployment environment's (application) URL is read from.
pub fn url_var(ws: &Workspace, env: &str) -> String {
    env_setting(ws, env, "postgres_url_env").unwrap_or_else(|| DEFAULT_URL_VAR.to_string())
}

/// The variable a deployment environment's owner URL is read from.
pub fn owner_url_var(ws: &Workspace, env: &str) -> String {
    env_setting(ws, env, "postgres_owner_url_env")
        .unwrap_or_else(|| DEFAULT_OWNER_URL_VAR.to_string())
}

fn set_var(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|u| !u.is_empty())
}

/// The owner's URL of a deployment and the variable it came from: the owner variable when
/// set, else the application's.
fn owner_url(ws: &Workspace, env: &str) -> Result<(String, String), PostgresError> {
    let (owner_var, app_var) = (owner_url_var(ws, env), url_var(ws, env));
    if let Some(url) = set_var(&owner_var) {
        return Ok((url, owner_var));
    }
    set_var(&app_var)
        .map(|url| (url, app_var.clone()))
        .ok_or_else(|| PostgresError::NoEndpoint {
            env: env.to_string(),
            var: app_var,
            owner_var,
        })
}

/// How messages name the target's database.
fn label(target: &Target) -> String {
    match target {
        Target::Dev => "the dev Postgres Cell".into(),
        Target::Env(env) => format!("the `{env}` database"),
    }
}

/// A client of the dev Cell at `url` (127.0.0.1, no TLS).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    connect_with(url, NoTls).await
}

/// A client of the server at `url`, encrypting as its `sslmode` asks (see `crate::tls`).
pub async fn connect_with<T>(
    url: &str,
    tls: T,
) -> Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = tokio_postgres::connect(url, tls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A failure to create or grant the application's role, with what to do about it.
fn role_error(target: &Target, what: &str, source: tokio_postgres::Error) -> PostgresError {
    let denied = source.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
    let help = match (denied, target) {
        (true, Target::Env(env)) => format!(
            "the role migrations run as (the owner URL of `{env}`, see {DEFAULT_OWNER_URL_VAR}) must own the declared tables and be allowed to manage `{app}`: \
             as a superuser, either `ALTER ROLE <owner> CREATEROLE`, or create the role once with `CREATE ROLE {app} NOLOGIN` and `GRANT {app} TO <owner> WITH ADMIN OPTION`; then apply again",
            app = roles::APP_ROLE
        ),
        (true, Target::Dev) => "the dev Cell's superuser was refused: the data volume is not this Cell's; `cargo cell reset postgres` starts afresh (the dev data is lost)".into(),
        (false, _) => "check the database runs and accepts the owner's connection (`cargo cell status`, `-v` shows more), then run again".into(),
    };
    PostgresError::Roles {
        target: label(target),
        what: what.to_string(),
        help,
        source,
    }
}

/// After an apply, holding its lock: the group role given exactly what the declared tables
/// need; in a deployment with two URLs, the application's login role made a member.
async fn grant_app_role(
    cx: &Context<'_>,
    client: &mut tokio_postgres::Client,
    planned: &Planned,
) -> Result<(), CellError> {
    let start = Instant::now();
    let managed: Vec<String> = planned
        .previous_lock
        .iter()
        .flat_map(|l| l.tables.keys().cloned())
        .collect();
    let statements = grants::sync(client, &planned.declared(), &managed)
        .await
        .map_err(|source| role_error(&cx.target, "grant the application's role", source))?;
    if !statements.is_empty() {
        let msg = format!(
            "postgres: role `{}` holds exactly what the code needs ({})",
            roles::APP_ROLE,
            roles::summary(&statements)
        );
        match cx.target {
            Target::Dev => cx.ui.verbose(&msg),
            Target::Env(_) => cx.ui.info(&msg),
        }
    }
    if let Target::Env(env) = &cx.target {
        member_of_app_role(cx, client, env).await?;
    }
    if planned.encrypted {
        encryption_keys(cx, client).await?;
    }
    cx.timings.stage("roles", start, ());
    Ok(())
}

/// For encrypted fields: the table of wrapped data keys, readable and extendable by the
/// application's role (the program makes the keys: the build never holds a deployment's
/// key-encryption keys); in dev, the dev key ring in `.cell/state/security.json`.
async fn encryption_keys(
    cx: &Context<'_>,
    client: &tokio_postgres::Client,
) -> Result<(), CellError> {
    use cell_crypto::{KEY_TABLE_SQL, KeyRing, KeyState, STATE_NAME, key_table_grants};
    let sql = format!(
        "{KEY_TABLE_SQL}\n{}",
        key_table_grants(&cell_core::sql::quote(roles::APP_ROLE))
    );
    client.batch_execute(&sql).await.map_err(|source| {
        role_error(&cx.target, "make the key table of encrypted fields", source)
    })?;
    if cx.target == Target::Dev && cell_core::state::read::<KeyState>(cx.ws, STATE_NAME).is_none() {
        let keys = KeyRing::generate_entry("dev1");
        cell_core::state::write(cx.ws, STATE_NAME, &KeyState { keys })
            .map_err(|(path, source)| PostgresError::DevKeys { path, source })?;
    }
    Ok(())
}

/// In a deployment with an owner URL, the application URL's role made a member of the
/// group role; a warning when there is no such role, or it is the owner.
async fn member_of_app_role(
    cx: &Context<'_>,
    client: &tokio_postgres::Client,
    env: &str,
) -> Result<(), CellError> {
    let (owner_var, app_var) = (owner_url_var(cx.ws, env), url_var(cx.ws, env));
    if set_var(&owner_var).is_none() {
        cx.ui.warn(&format!(
            "postgres: `{env}` migrations ran with {app_var}, so the application connects as the tables' owner: set {owner_var} to the owner's URL and {app_var} to a login role's, which `apply` makes a member of `{}`",
            roles::APP_ROLE
        ));
        return Ok(());
    }
    let Some(login) = set_var(&app_var)
        .and_then(|u| u.parse::<tokio_postgres::Config>().ok())
        .and_then(|c| c.get_user().map(str::to_string))
    else {
        return Ok(());
    };
    let membership = grants::ensure_member(client, &login)
        .await
        .map_err(|source| {
            role_error(
                &cx.target,
                "make the application's login role a member",
                source,
            )
        })?;
    let app = roles::APP_ROLE;
    match membership {
        grants::Membership::Member { added: true } => cx
            .ui
            .info(&format!("postgres: `{login}` ({app_var}) is now a member of `{app}`")),
        grants::Membership::Member { added: false } => {}
        grants::Membership::Owner => cx.ui.warn(&format!(
            "postgres: {app_var} and {owner_var} name the same role `{login}`: the application connects as the tables' owner; give {app_var} a login role of its own (`CREATE ROLE app LOGIN PASSWORD '...'`), which `apply` makes a member of `{app}`"
        )),
        grants::Membership::NoSuchRole => cx.ui.warn(&format!(
            "postgres: {app_var} names the role `{login}`, which `{env}` does not have: create it as a login role (`CREATE ROLE \"{login}\" LOGIN PASSWORD '...'`) and apply again, which makes it a member of `{app}`"
        )),
    }
    Ok(())
}

fn pg_error(source: tokio_postgres::Error) -> PostgresError {
    PostgresError::Postgres {
        cell: CELL_NAME.into(),
        source,
    }
}

async fn connect_remote(
    ws: &Workspace,
    env: &str,
) -> Result<tokio_postgres::Client, PostgresError> {
    let (url, var) = owner_url(ws, env)?;
    let var = var.as_str();
    let tls = crate::tls::connector().map_err(|source| PostgresError::TlsConfig { source })?;
    connect_with(&url, tls).await.map_err(|source| {
        let (env, url, var) = (env.to_string(), cell::redact(&url), var.to_string());
        if crate::tls::is_certificate_error(&source) {
            PostgresError::EnvCertificate {
                env,
                url,
                var,
                source,
            }
        } else {
            PostgresError::EnvConnect {
                env,
                url,
                var,
                source,
            }
        }
    })
}

/// A client of the target's database: the dev Cell (brought up once per command) or the
/// environment's URL.
async fn client(cx: &Context<'_>) -> Result<tokio_postgres::Client, CellError> {
    match &cx.target {
        Target::Dev => {
            let endpoint = cx.up(&PostgresCell).await?;
            Ok(connect(&endpoint.url).await.map_err(pg_error)?)
        }
        Target::Env(env) => {
            let start = Instant::now();
            let client = connect_remote(cx.ws, env).await?;
            cx.timings.stage("connect", start, ());
            Ok(client)
        }
    }
}

/// A client of the target's database as the role that owns the schema (the one `build` and
/// `apply` migrate with), for Cells that keep their data in the Postgres Cell (Audit).
pub async fn owner_client(cx: &Context<'_>) -> Result<tokio_postgres::Client, CellError> {
    client(cx).await
}

/// What applying the code's declarations would do, and what the data says about it.
pub struct Planned {
    pub desired: Desired,
    pub live: Schema,
    pub plan: Plan,
    /// What changed in the database outside cargo-cell since the lock was written.
    pub drift: Plan,
    /// Rows counted for the plan's risky steps, by step index.
    pub counts: BTreeMap<usize, i64>,
    pub previous_lock: Option<Lock>,
    /// The declared schema's fingerprint, before Postgres normalised its defaults.
    pub declared_fingerprint: String,
    /// Steps that would break a locked query the code still runs, or turn encryption on for
    /// a column in the clear.
    pub query_breaks: Vec<safety::Refusal>,
    /// Whether a declared field is encrypted: the key table is then made.
    pub encrypted: bool,
}

impl Planned {
    /// Notes shown beside the steps: the counted rows.
    pub fn notes(&self) -> BTreeMap<usize, String> {
        self.counts
            .iter()
            .filter_map(|(&i, &n)| safety::note(&self.plan.steps[i], n).map(|note| (i, note)))
            .collect()
    }

    pub fn refusals(&self, allow_destructive: bool) -> Vec<safety::Refusal> {
        let mut out = safety::judge(&self.plan, &self.counts, allow_destructive);
        out.extend(self.query_breaks.iter().cloned());
        out
    }

    /// The declared tables, for the lock.
    pub fn declared(&self) -> Vec<String> {
        self.desired.schema.tables.keys().cloned().collect()
    }
}

/// Tables at least this large (Postgres' estimate) get online steps: indexes built
/// concurrently, foreign keys validated after the transaction.
const ONLINE_ROWS_DEFAULT: i64 = 1_000_000;

fn online_rows_threshold() -> i64 {
    std::env::var("CELL_ONLINE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ONLINE_ROWS_DEFAULT)
}

/// The plan of `decls` against the database and the lock at `.cell/postgres.lock.json`.
pub async fn plan_against(
    ws: &Workspace,
    client: &mut tokio_postgres::Client,
    decls: &[TableDecl],
    enums: &[EnumDecl],
    queries: &[crate::queries::QueryDecl],
) -> Result<Planned, CellError> {
    let decls = &resolve_enums(decls, enums)?[..];
    let previous_lock = Lock::read(&ws.lock_path(LOCK_FILE))?;
    let previous = previous_lock.as_ref().map(Lock::schema).unwrap_or_default();
    let mut desired = declare::desired(decls, enums);
    let declared_fingerprint = desired.schema.fingerprint();
    live::normalize_defaults(client, &mut desired.schema).await.map_err(|source| PostgresError::ApplyFailed {
        what: "a declared default is not a valid SQL expression for its column".into(),
        help: "check every #[Postgres::default(\"...\")]: it must be an SQL expression of the column's type, like \"NOW()\" or \"0\"".into(),
        source,
    })?;
    live::normalize_generated(client, &mut desired.schema).await.map_err(|source| PostgresError::ApplyFailed {
        what: "a generated column's expression is not valid on this server".into(),
        help: "a #[Search::index] field must be a text column, in a text search configuration the server has (`SELECT cfgname FROM pg_ts_config`)".into(),
        source,
    })?;
    let tables: Vec<String> = desired
        .schema
        .tables
        .keys()
        .chain(previous.tables.keys())
        .chain(desired.renames.tables.values())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let enum_names: Vec<String> = desired
        .schema
        .enums
        .keys()
        .chain(previous.enums.keys())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let live_schema = live::introspect(&*client, &tables, &enum_names)
        .await
        .map_err(pg_error)?;
    check_references(decls, &desired.schema, client).await?;
    check_extensions(decls, &desired.schema, &live_schema, client).await?;
    let mut plan = plan::diff(&desired, &live_schema, &previous);
    let touched: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| s.table())
        .filter(|t| live_schema.tables.contains_key(*t))
        .map(str::to_string)
        .collect();
    if !touched.is_empty() {
        let rows = live::row_estimates(&*client, &touched)
            .await
            .map_err(pg_error)?;
        safety::prefer_online(&mut plan, &rows, online_rows_threshold());
    }
    let counts = live::count_rows(&*client, &plan, &live_schema).await;
    let drift = match &previous_lock {
        Some(_) => crate::diff::drift(&previous, &live_schema),
        None => Plan::default(),
    };
    let queries_lock =
        crate::queries::QueriesLock::read(&ws.lock_path(crate::queries::QUERIES_LOCK_FILE))?
            .unwrap_or_default();
    let mut query_breaks = crate::queries::broken_by(&plan.steps, &queries_lock, queries);
    query_breaks.extend(crate::encryption::refusals(&plan.steps, decls));
    Ok(Planned {
        query_breaks,
        encrypted: decls.iter().any(|t| t.columns.iter().any(|c| c.encrypted)),
        desired,
        live: live_schema,
        plan,
        drift,
        counts,
        previous_lock,
        declared_fingerprint,
    })
}

/// An extension the code needs must be installable: refused before any plan, naming the
/// table that asks for it.
async fn check_extensions(
    decls: &[TableDecl],
    desired: &Schema,
    live: &Schema,
    client: &tokio_postgres::Client,
) -> Result<(), PostgresError> {
    let missing = live::unavailable_extensions(client, desired, live)
        .await
        .map_err(pg_error)?;
    let Some(extension) = missing.into_iter().next() else {
        return Ok(());
    };
    let table = decls
        .iter()
        .find(|d| d.extensions().any(|e| e == extension))
        .map_or_else(
            || "a table".to_string(),
            |d| format!("`{}` (struct `{}`)", d.name, d.rust_name),
        );
    Err(PostgresError::ExtensionUnavailable { extension, table })
}

/// A foreign key must point at a declared table, or at one that exists in the database.
async fn check_references(
    decls: &[TableDecl],
    desired: &Schema,
    client: &tokio_postgres::Client,
) -> Result<(), PostgresError> {
    for d in decls {
        for c in &d.columns {
            let Some(fk) = &c.foreign_key else { continue };
            let target = format!("{}.{}", fk.table, fk.column);
            let has_column = match desired.tables.get(&fk.table) {
                Some(t) => t.columns.contains_key(&fk.column),
                None => {
                    let live =
                        live::introspect_tables(client, std::slice::from_ref(&fk.table), &[])
                            .await
                            .map_err(pg_error)?;
                    match live.tables.get(&fk.table) {
                        Some(t) => t.columns.contains_key(&fk.column),
                        None => {
                            return Err(PostgresError::MissingReference {
                                table: d.name.clone(),
                                column: c.name.clone(),
                                target,
                                why: "no struct declares and the database does not have".into(),
                            });
                        }
                    }
                }
            };
            if !has_column {
                return Err(PostgresError::MissingReference {
                    table: d.name.clone(),
                    column: c.name.clone(),
                    target,
                    why: format!("is not a column of `{}`", fk.table),
                });
            }
        }
    }
    Ok(())
}

/// Refuses the plan when a step loses data that was not allowed, or when the data makes
/// a step impossible; every refusal says how many rows and what to do.
pub fn check_safety(planned: &Planned, allow_destructive: bool) -> Result<(), PostgresError> {
    let refusals = planned.refusals(allow_destructive);
    if refusals.is_empty() {
        return Ok(());
    }
    let mut steps = String::new();
    let mut help = Vec::new();
    for r in &refusals {
        steps.push_str(&format!("\n  {}", r.message));
        help.push(format!(
            "{}: {}",
            r.message.split(':').next().unwrap_or(""),
            r.help
        ));
    }
    let overridable_only = refusals.iter().all(|r| r.overridable);
    Err(PostgresError::PlanRefused {
        steps,
        help: if overridable_only {
            "review them with `cargo cell plan`; if losing that data is intended, run again with --allow-destructive".into()
        } else {
            help.join("\n")
        },
    })
}

/// Waits for any other apply on this database to finish, then holds the schema lock until
/// [`unlock`] (or until the connection closes, when this process dies).
pub async fn lock(client: &tokio_postgres::Client, target: &str) -> Result<(), PostgresError> {
    let wait = std::env::var("CELL_APPLY_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300));
    live::ApplyLock::acquire(client, wait)
        .await
        .map_err(|e| match e {
            live::LockError::Busy(busy) => PostgresError::ApplyLockBusy {
                target: target.to_string(),
                pid: busy
                    .pid
                    .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
                seconds: busy.waited.as_secs(),
            },
            live::LockError::Postgres(source) => pg_error(source),
        })
}

pub async fn unlock(client: &tokio_postgres::Client) -> Result<(), PostgresError> {
    live::ApplyLock::release(client).await.map_err(pg_error)
}

/// A stable hash of a plan's steps, for the history table.
pub fn plan_hash(plan: &Plan) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(&plan.steps).expect("steps serialise");
    hex::encode(&Sha256::digest(&bytes)[..8])
}

/// Runs `plan` in one transaction.
pub async fn apply_plan(
    client: &mut tokio_postgres::Client,
    plan: &Plan,
) -> Result<(), PostgresError> {
    let options = live::ApplyOptions {
        lock_timeout: Duration::from_secs(
            std::env::var("CELL_LOCK_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
        ),
        plan_hash: plan_hash(plan),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        step_delay: std::env::var("CELL_TEST_STEP_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis),
    };
    live::apply(client, plan, &options).await.map_err(|e| PostgresError::ApplyFailed {
        what: match &e.step {
            Some((i, sql)) => format!("step {} `{}`", i + 1, sql.lines().next().unwrap_or_default()),
            None => "the transaction".into(),
        },
        help: "existing rows may violate the change (NOT NULL, UNIQUE, FOREIGN KEY, CHECK), or a table lock was not granted within CELL_LOCK_TIMEOUT seconds: fix the data or the declaration, then run again".into(),
        source: e.source,
    })
}

/// Writes the live schema of the declared tables and enums to the lock, with the declared
/// schema's fingerprint. Returns (written, existed before).
pub async fn write_lock(
    ws: &Workspace,
    client: &tokio_postgres::Client,
    planned: &Planned,
) -> Result<(bool, bool), CellError> {
    let tables: Vec<String> = planned.desired.schema.tables.keys().cloned().collect();
    let enums: Vec<String> = planned.desired.schema.enums.keys().cloned().collect();
    let live_schema = live::introspect(client, &tables, &enums)
        .await
        .map_err(pg_error)?;
    let mut lock = Lock::from_schema(live_schema);
    // Installed extensions the code does not ask for are somebody else's.
    lock.extensions
        .retain(|e| planned.desired.schema.extensions.contains(e));
    lock.declared = Some(planned.declared_fingerprint.clone());
    let path = ws.lock_path(LOCK_FILE);
    let existed = path.exists();
    let written = cell_core::lockfile::write_if_changed(&path, &lock.to_bytes())
        .map_err(|source| (path, source))?;
    Ok((written, existed))
}

/// The Postgres Cell's plan, as every command sees it.
pub struct PostgresPlan {
    pub planned: Planned,
    /// Planned against the dev Cell (whose lock the code must have written).
    pub dev: bool,
}

impl CellPlan for PostgresPlan {
    fn is_empty(&self) -> bool {
        self.planned.plan.is_empty() && self.planned.drift.is_empty()
    }

    fn summary(&self) -> Summary {
        report::summary(&self.planned.plan)
    }

    fn render(&self, how: &Render<'_>) -> String {
        render(&self.planned, how.with_sql, how.style)
    }

    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::to_value(postgres_report(&self.planned)).expect("report serialises"))
    }

    fn problems(&self) -> Vec<String> {
        let p = &self.planned;
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
        if self.dev
            && p.previous_lock.as_ref().and_then(|l| l.declared.as_ref())
                != Some(&p.declared_fingerprint)
        {
            problems.push("the lock was not written from this code".into());
        }
        problems
    }

    fn flags(&self) -> Vec<ReviewFlag> {
        let mut flags = Vec::new();
        if !self.planned.refusals(false).is_empty() {
            flags.push(ReviewFlag::Destructive);
        }
        if !self.planned.drift.is_empty() {
            flags.push(ReviewFlag::Drift);
        }
        flags
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Whether the target has something of this Cell to plan: the code's tables on the dev
/// Cell; always on a deployment's database.
fn planned_here(cx: &Context<'_>, manifest: &Manifest) -> bool {
    cx.target != Target::Dev || !section(manifest).tables.is_empty()
}

#[async_trait]
impl LiveCell for PostgresCell {
    fn is_used(&self, ws: &Workspace, manifest: Option<&Manifest>) -> bool {
        match manifest {
            // The code decides; a lock alone (every table removed) plans nothing.
            Some(m) => !section(m).tables.is_empty(),
            None => ws.lock_path(LOCK_FILE).exists(),
        }
    }

    async fn container(
        &self,
        cx: &Context<'_>,
        existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        let password =
            known_password(cx.ws, existing).unwrap_or_else(|| cell_core::live::random_secret(32));
        Ok(spec(cx.ws, &password))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for Postgres to accept connections"
    }

    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        let password = spec
            .and_then(|s| {
                s.env
                    .iter()
                    .find(|(k, _)| k == "POSTGRES_PASSWORD")
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| known_password(ws, Some(running)))?;
        // Kept across runs; a new one only where `after_up` follows and sets it (`spec` is
        // given by `up`, not by `status`).
        let app_password = read_state(ws)
            .and_then(|s| s.app_password)
            .or_else(|| spec.map(|_| cell_core::live::random_secret(32)));
        let state = State::of(password, app_password, running);
        let mut endpoint = Endpoint::single(self, state.url.clone(), running).with_state(&state);
        // `run` and `test` give the program the application's role; migrations keep `url`.
        if let Some(app_url) = &state.app_url {
            endpoint.env = vec![(URL_ENV.to_string(), app_url.clone())];
        }
        Some(endpoint)
    }

    /// The application's login role, with the state's password, a member of the group role
    /// (both created when missing); and, when no apply holds the schema lock, the group
    /// role's grants brought to the lock's tables, so a workspace built before roles
    /// existed works at once.
    async fn after_up(&self, cx: &Context<'_>, endpoint: &Endpoint) -> Result<(), CellError> {
        let Some(state) = State::from_endpoint(endpoint) else {
            return Ok(());
        };
        let (Some(user), Some(password)) = (&state.app_user, &state.app_password) else {
            return Ok(());
        };
        let mut client = connect(&endpoint.url).await.map_err(pg_error)?;
        grants::ensure_login(&mut client, user, password)
            .await
            .map_err(|source| {
                role_error(&Target::Dev, "create the application's login role", source)
            })?;
        let tables: Vec<String> = Lock::read(&cx.ws.lock_path(LOCK_FILE))
            .ok()
            .flatten()
            .map(|l| l.tables.keys().cloned().collect())
            .unwrap_or_default();
        // An apply holding the lock grants when it is done.
        if live::ApplyLock::acquire(&client, Duration::ZERO)
            .await
            .is_ok()
        {
            let synced = grants::sync(&mut client, &tables, &tables).await;
            let _ = unlock(&client).await;
            synced.map_err(|source| {
                role_error(&Target::Dev, "grant the application's role", source)
            })?;
        }
        Ok(())
    }

    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        let client = connect(&endpoint.url).await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        if !planned_here(cx, manifest) {
            return Ok(None);
        }
        let s = section(manifest);
        let mut client = client(cx).await?;
        let start = Instant::now();
        let planned = plan_against(cx.ws, &mut client, &s.tables, &s.enums, &s.queries).await?;
        cx.timings.stage("plan", start, ());
        Ok(Some(Box::new(PostgresPlan {
            planned,
            dev: cx.target == Target::Dev,
        })))
    }

    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        if !planned_here(cx, manifest) || (how.build && cx.target != Target::Dev) {
            return Ok(Applied::default());
        }
        let mut client = client(cx).await?;
        let target = label(&cx.target);
        lock(&client, &target).await?;
        let result = if how.build {
            converge_locked(cx, manifest, &mut client, how.allow_destructive).await
        } else {
            apply_locked(cx, manifest, &mut client, how).await
        };
        // Also released when the connection closes; unlocking early lets a waiting apply go on.
        let _ = unlock(&client).await;
        Ok(Applied {
            used: true,
            lock_created: result?,
        })
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![keys::command()]
    }

    /// `cargo cell keys rotate`.
    async fn run_command(
        &self,
        name: &str,
        matches: &clap::ArgMatches,
        load: &(dyn Fn() -> Result<Workspace, CellError> + Send + Sync),
        ui: &cell_core::ui::Ui,
    ) -> Result<std::process::ExitCode, CellError> {
        use clap::FromArgMatches as _;
        if name != keys::COMMAND {
            return Ok(std::process::ExitCode::FAILURE);
        }
        let args = keys::KeysArgs::from_arg_matches(matches).unwrap_or_else(|e| e.exit());
        let ws = load()?;
        let timings = cell_core::live::Timings::default();
        match args.command {
            keys::KeysCommand::Rotate(rotate) => {
                let target = rotate.env.as_deref().map_or(Target::Dev, Target::new);
                let cx = Context::new(&ws, ui, target, &timings);
                let ring = keys::ring_for(&ws, &cx.target)?;
                let mut client = client(&cx).await?;
                let rotated = keys::rotate(&mut client, &ring, &rotate, ui).await?;
                for line in rotated.lines() {
                    println!("{line}");
                }
                Ok(std::process::ExitCode::SUCCESS)
            }
        }
    }
}

/// The container of the dev Cell, as data.
pub fn spec(ws: &Workspace, password: &str) -> ContainerSpec {
    ContainerSpec {
        cell: CELL_NAME.to_string(),
        image: ws.cell_image(CELL_NAME, "image", cell::IMAGE_ENV, cell::DEFAULT_IMAGE),
        env: cell::container_env(password),
        cmd: None,
        container_port: cell::CONTAINER_PORT,
        data_path: cell::DATA_PATH.to_string(),
        image_env: cell::IMAGE_ENV.to_string(),
        image_hint: "build the local test images with `scripts/build-images`".to_string(),
    }
}

/// `cargo cell build`'s step: plan, refuse what is unsafe, apply, lock. Returns whether the
/// lock file was created by this run.
async fn converge_locked(
    cx: &Context<'_>,
    manifest: &Manifest,
    client: &mut tokio_postgres::Client,
    allow_destructive: bool,
) -> Result<bool, CellError> {
    let (ws, ui) = (cx.ws, cx.ui);
    let s = section(manifest);
    let start = Instant::now();
    let planned = plan_against(ws, client, &s.tables, &s.enums, &s.queries).await?;
    cx.timings.stage("plan", start, ());
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
        check_safety(&planned, allow_destructive)?;
        apply_plan(client, &planned.plan).await?;
        ui.info(&format!(
            "postgres: applied {}\n{}",
            planned.plan.summary(),
            planned
                .plan
                .render_styled(false, &Plain, &planned.notes())
                .trim_end()
        ));
    }
    cx.timings.stage("apply", start, ());
    grant_app_role(cx, client, &planned).await?;
    let (written, existed) = write_lock(ws, client, &planned).await?;
    if written {
        ui.info(&format!(
            "postgres: wrote {}",
            ws.lock_path(LOCK_FILE).display()
        ));
    }
    let start = Instant::now();
    let queries_created = write_queries_lock(cx, &s.queries, client).await?;
    cx.timings.stage("describe", start, ());
    Ok((written && !existed && planned.previous_lock.is_none()) || queries_created)
}

/// Prepares every recorded query on the dev Cell and writes what Postgres said to
/// `.cell/postgres.queries.lock.json` (only when its bytes change; not at all for a
/// workspace that has never had a query). Returns whether the file was created.
async fn write_queries_lock(
    cx: &Context<'_>,
    queries: &[crate::queries::QueryDecl],
    client: &tokio_postgres::Client,
) -> Result<bool, CellError> {
    use crate::queries::{Described, QUERIES_LOCK_FILE};
    let path = cx.ws.lock_path(QUERIES_LOCK_FILE);
    let existed = path.exists();
    if queries.is_empty() && !existed {
        return Ok(false);
    }
    let lock = describe::describe_all(client, queries)
        .await
        .map_err(pg_error)?;
    let rejected = lock
        .queries
        .values()
        .filter(|q| matches!(q.described, Described::Rejected { .. }))
        .count();
    let written = cell_core::lockfile::write_if_changed(&path, &lock.to_bytes())
        .map_err(|source| (path.clone(), source))?;
    if written {
        let n = lock.queries.len();
        cx.ui.info(&format!(
            "postgres: described {n} quer{} in {}{}",
            if n == 1 { "y" } else { "ies" },
            path.display(),
            match rejected {
                0 => String::new(),
                r => format!(" ({r} refused by Postgres: the build shows why, at each query)"),
            }
        ));
    }
    Ok(written && !existed)
}

/// `cargo cell apply`'s step: the plan shown, refused when unsafe, confirmed, applied; the
/// lock written on the dev Cell, compared on another target.
async fn apply_locked(
    cx: &Context<'_>,
    manifest: &Manifest,
    client: &mut tokio_postgres::Client,
    how: &ApplyOptions<'_>,
) -> Result<bool, CellError> {
    let (ws, ui) = (cx.ws, cx.ui);
    let s = section(manifest);
    let start = Instant::now();
    let mut planned = plan_against(ws, client, &s.tables, &s.enums, &s.queries).await?;
    if let Some((file, entry)) = how.saved_plan {
        use_saved_plan(file, entry, &mut planned, client).await?;
    }
    cx.timings.stage("plan", start, ());
    let style: &dyn cell_core::plan::Style = if how.colour {
        &cell_core::ui::Colours
    } else {
        &Plain
    };
    print!("{}", render(&planned, false, style));
    let target = label(&cx.target);
    if !planned.plan.is_empty() {
        check_safety(&planned, how.allow_destructive)?;
        match prompt::confirm(&format!("Apply these changes to {target}?"), how.yes)
            .map_err(|source| cell_core::CoreError::Prompt { source })?
        {
            Answer::Yes => {}
            Answer::No => return Err(PostgresError::Cancelled { target }.into()),
            Answer::NoTerminal => {
                return Err(PostgresError::ConfirmationRequired { target }.into());
            }
        }
        let start = Instant::now();
        apply_plan(client, &planned.plan).await?;
        cx.timings.stage("apply", start, ());
        ui.info(&format!(
            "postgres: applied {} to {target}",
            planned.plan.summary(),
        ));
    }
    grant_app_role(cx, client, &planned).await?;
    match &cx.target {
        Target::Dev => {
            let (written, existed) = write_lock(ws, client, &planned).await?;
            if written {
                ui.info(&format!(
                    "postgres: wrote {}",
                    ws.lock_path(LOCK_FILE).display()
                ));
            }
            Ok(written && !existed && planned.previous_lock.is_none())
        }
        // The lock describes the dev Cell the code was built against; another environment
        // is compared with it, never written to it.
        Target::Env(env) => {
            if let Some(lock) = &planned.previous_lock {
                let tables: Vec<String> = lock.tables.keys().cloned().collect();
                let enums: Vec<String> = lock.enums.keys().cloned().collect();
                let now = live::introspect(&*client, &tables, &enums)
                    .await
                    .map_err(|source| PostgresError::Postgres {
                        cell: env.clone(),
                        source,
                    })?;
                if now.tables != lock.tables || now.enums != lock.enums {
                    ui.warn(&format!(
                        "the `{env}` schema now differs from .cell/postgres.lock.json: the lock was written from other declarations; run `cargo cell build` and commit .cell/"
                    ));
                }
            }
            Ok(false)
        }
    }
}

/// Swaps the fresh plan for a saved one, if the database is still in the state the saved
/// plan was made from.
async fn use_saved_plan(
    file: &std::path::Path,
    entry: Option<&serde_json::Value>,
    planned: &mut Planned,
    client: &tokio_postgres::Client,
) -> Result<(), CellError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| cell_core::CoreError::PlanFile {
        path: file.to_path_buf(),
        source,
    };
    let entry = entry.ok_or_else(|| fail("the plan has no postgres section".into()))?;
    let saved: PostgresReport =
        serde_json::from_value(entry.clone()).map_err(|e| fail(Box::new(e)))?;
    let live = planned.live.fingerprint();
    if saved.live_fingerprint != live {
        return Err(PostgresError::StalePlan {
            path: file.to_path_buf(),
            planned: saved.live_fingerprint,
            live,
        }
        .into());
    }
    planned.plan = Plan { steps: saved.steps };
    planned.counts = live::count_rows(client, &planned.plan, &planned.live).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(password: &str) -> RunningCell {
        RunningCell {
            cell: CELL_NAME.into(),
            container_id: "c0ffee".into(),
            container_name: "cell-postgres".into(),
            image: "postgres:17".into(),
            host_port: 54321,
            env: vec![("POSTGRES_PASSWORD".into(), password.into())],
            created: false,
        }
    }

    /// A folder of its own under the system's temporary one, empty.
    fn workspace(name: &str) -> (std::path::PathBuf, Workspace) {
        let root =
            std::env::temp_dir().join(format!("cell-postgres-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ws = Workspace::bare(&root);
        (root, ws)
    }

    #[test]
    fn a_state_from_before_roles_still_reads() {
        let old = r#"{"url":"postgres://cell:pw@127.0.0.1:5432/cell","user":"cell","password":"pw",
            "database":"cell","container_id":"c0ffee","host_port":5432}"#;
        let state: State = serde_json::from_str(old).unwrap();
        assert_eq!(state.password, "pw");
        assert_eq!(
            (state.app_user, state.app_password, state.app_url),
            (None, None, None)
        );
    }

    #[test]
    fn run_and_test_get_the_app_role_and_migrations_keep_the_owner() {
        let (root, ws) = workspace("endpoint");
        let spec = spec(&ws, "ownerpw");
        let endpoint = PostgresCell
            .endpoint(&ws, &running("ownerpw"), Some(&spec))
            .unwrap();
        assert_eq!(endpoint.url, "postgres://cell:ownerpw@127.0.0.1:54321/cell");
        let state = State::from_endpoint(&endpoint).unwrap();
        let password = state.app_password.clone().unwrap();
        assert_eq!(password.len(), 32);
        let app_url = format!("postgres://cell_app_dev:{password}@127.0.0.1:54321/cell");
        assert_eq!(state.app_url.as_deref(), Some(app_url.as_str()));
        assert_eq!(state.app_user.as_deref(), Some(roles::DEV_LOGIN_ROLE));
        assert_eq!(endpoint.env, [(URL_ENV.to_string(), app_url.clone())]);

        // The next run keeps the password the state holds.
        cell_core::state::write(&ws, CELL_NAME, &state).unwrap();
        let again = PostgresCell
            .endpoint(&ws, &running("ownerpw"), Some(&spec))
            .unwrap();
        assert_eq!(again.env, [(URL_ENV.to_string(), app_url)]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn status_invents_no_app_password() {
        let (root, ws) = workspace("status");
        let endpoint = PostgresCell
            .endpoint(&ws, &running("ownerpw"), None)
            .unwrap();
        let state = State::from_endpoint(&endpoint).unwrap();
        assert_eq!(state.app_password, None);
        assert_eq!(endpoint.env, [(URL_ENV.to_string(), endpoint.url.clone())]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_deployment_names_its_owner_url_variable() {
        let (root, mut ws) = workspace("owner-url");
        assert_eq!(owner_url_var(&ws, "prod"), "CELL_POSTGRES_OWNER_URL");
        assert_eq!(url_var(&ws, "prod"), "CELL_POSTGRES_URL");
        ws.config = serde_json::json!({"environments": {"prod": {
            "postgres_url_env": "PROD_APP_URL",
            "postgres_owner_url_env": "PROD_OWNER_URL",
        }}});
        assert_eq!(owner_url_var(&ws, "prod"), "PROD_OWNER_URL");
        assert_eq!(url_var(&ws, "prod"), "PROD_APP_URL");
        assert_eq!(owner_url_var(&ws, "staging"), "CELL_POSTGRES_OWNER_URL");
        // Neither set: the error names both, and says what each is for.
        let e = owner_url(&ws, "prod").unwrap_err();
        let text = format!("{e} {}", miette::Diagnostic::help(&e).unwrap());
        assert!(
            text.contains("$PROD_OWNER_URL") && text.contains("$PROD_APP_URL"),
            "{text}"
        );
        assert!(text.contains("migrations run as"), "{text}");
        std::fs::remove_dir_all(root).unwrap();
    }
}

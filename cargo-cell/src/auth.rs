//! The Auth Cell, cargo-cell's side: the dev token service's image and container, its state,
//! the permission plan and lock, and `cargo cell auth token|serve`. The Cell's pure parts
//! (rules, role bits, lock, plan) live in `cell-auth`.
//!
//! The token service is this very binary (`cargo-cell cell auth serve`) on a Debian-based
//! image: cargo-cell builds that image itself through the Docker API, from a build context
//! holding its own executable, so users need nothing but a base image (default
//! `debian:bookworm-slim`; `[workspace.metadata.cell.auth] base_image` or
//! `CELL_AUTH_BASE_IMAGE`). With `[workspace.metadata.cell.auth] issuer = "https://..."` no
//! container runs: the application verifies that issuer's tokens.

use cell_lockfile::LockFile as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use miette::Diagnostic;
use rand::Rng;
use sha2::{Digest, Sha256};

use cell_auth::cell::{self, MintRequest, MintResponse, State};
use cell_auth::lock::Lock;
use cell_auth::plan::{self, Plan};
use cell_auth::rule::GuardDecl;
use cell_auth::{CELL_NAME, LOCK_FILE};

use crate::cli::GlobalArgs;
use crate::docker::{CellSpec, DockerError, Engine, LABEL_MANAGED_BY, MANAGED_BY};
use crate::ui::Ui;
use crate::workspace::Workspace;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Mint a token from the dev token service: `cargo cell auth token --role admin --sub alice`.
    Token(TokenArgs),
    /// Run the token service (what the Auth Cell's container runs).
    #[command(hide = true)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's subject.
    #[arg(long, default_value = "dev")]
    pub sub: String,
    /// A role (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// Another audience than the workspace's (to test that it is refused).
    #[arg(long)]
    pub aud: Option<String>,
    /// Seconds until it expires (negative: already expired, to test that it is refused).
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
    pub ttl: i64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    #[arg(long, default_value = cell::DATA_PATH)]
    pub data: PathBuf,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum AuthCellError {
    #[error("`{path}` is guarded twice, differently: {first} and {second}")]
    #[diagnostic(
        code(cell::auth::conflict),
        help(
            "the lock keys guards by crate, module (from the file) and function name: rename one of the functions, or move it to another module file"
        )
    )]
    ConflictingGuards {
        path: String,
        first: String,
        second: String,
    },

    #[error("{0}")]
    #[diagnostic(
        code(cell::auth::roles),
        help("a role set is a 64-bit mask: use fewer distinct roles")
    )]
    TooManyRoles(#[from] cell_auth::lock::TooManyRoles),

    #[error(transparent)]
    #[diagnostic(
        code(cell::auth::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock(#[from] cell_auth::lock::LockError),

    #[error("cannot build the token service image {image} from {base}: {why}")]
    #[diagnostic(
        code(cell::auth::image),
        help(
            "the base image must exist locally or be pullable: `docker pull {base}`, or name another Debian-based image with CELL_AUTH_BASE_IMAGE or `[workspace.metadata.cell.auth] base_image`"
        )
    )]
    Image {
        image: String,
        base: String,
        why: String,
    },

    #[error("the Auth Cell's token service did not answer on {url} within {seconds} s")]
    #[diagnostic(
        code(cell::auth::unhealthy),
        help(
            "its last log lines:\n{logs}\n`cargo cell down` removes it; the next `cargo cell build` starts it again"
        )
    )]
    Unhealthy {
        url: String,
        seconds: u64,
        logs: String,
    },

    #[error("no dev token service for this workspace: {why}")]
    #[diagnostic(
        code(cell::auth::state),
        help(
            "run `cargo cell build` first: it starts the Auth Cell when the code has #[Auth::...] guards"
        )
    )]
    NoState { why: String },

    #[error("the token service refused to mint: {why}")]
    #[diagnostic(
        code(cell::auth::mint),
        help(
            "check it runs with `cargo cell status`; `cargo cell build` restarts it and rewrites .cell/state/auth.json"
        )
    )]
    Mint { why: String },

    #[error("cannot write {path}")]
    #[diagnostic(code(cell::io))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the token service failed: {0}")]
    #[diagnostic(code(cell::auth::serve))]
    Serve(String),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Docker(#[from] DockerError),
}

type Result<T, E = AuthCellError> = std::result::Result<T, E>;

/// Adds a recorded guard to the manifest's list (sorted by path, each once).
pub fn add_guard(guards: &mut Vec<GuardDecl>, decl: GuardDecl, origin: &str) -> Result<()> {
    match guards.binary_search_by(|g| g.path.cmp(&decl.path)) {
        // One source compiled in several units (lib, its tests): one guard.
        Ok(i) if guards[i] == decl => Ok(()),
        Ok(i) => Err(AuthCellError::ConflictingGuards {
            path: decl.path.clone(),
            first: guards[i].rule.describe(),
            second: format!("{} (in {origin})", decl.rule.describe()),
        }),
        Err(i) => {
            guards.insert(i, decl);
            Ok(())
        }
    }
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.cell_dir().join(LOCK_FILE)
}

pub fn state_path(ws: &Workspace) -> PathBuf {
    crate::state::path(ws, CELL_NAME)
}

/// The permission changes the code asks for.
pub fn plan(ws: &Workspace, guards: &[GuardDecl]) -> Result<Plan> {
    let lock = Lock::read(&lock_path(ws))?;
    Ok(plan::diff(lock.as_ref(), guards))
}

/// Prints the plan (`cargo cell plan`); returns whether there are changes.
pub fn print_plan(ws: &Workspace, guards: &[GuardDecl]) -> Result<bool> {
    if guards.is_empty() && !lock_path(ws).exists() {
        return Ok(false);
    }
    let plan = plan(ws, guards)?;
    if plan.is_empty() {
        println!("auth: No changes. The permissions match the code.");
        return Ok(false);
    }
    println!("auth: {}", plan.summary());
    print!("{}", plan.render());
    if plan.loosened().next().is_some() {
        println!(
            "\nLoosened permissions admit callers who were refused before: review them before `cargo cell build` locks them."
        );
    }
    Ok(true)
}

/// `cargo cell build` / `apply`: the dev token service up (unless an issuer is configured)
/// and the lock written. Returns whether the lock file was created by this run.
pub async fn converge(ws: &Workspace, guards: &[GuardDecl], ui: &Ui) -> Result<bool> {
    let path = lock_path(ws);
    if guards.is_empty() && !path.exists() {
        return Ok(false);
    }
    let plan = plan(ws, guards)?;
    if !guards.is_empty() {
        match ws.cell_setting(CELL_NAME, "issuer") {
            Some(issuer) => ui.verbose(&format!(
                "auth: tokens come from {issuer}; no dev token service"
            )),
            None => {
                let engine = Engine::connect().await?;
                up(ws, &engine, ui).await?;
            }
        }
    }
    let lock = Lock::from_guards(guards)?;
    let existed = path.exists();
    let written = cell_lockfile::write_if_changed(&path, &lock.to_bytes()).map_err(|source| {
        AuthCellError::Write {
            path: path.clone(),
            source,
        }
    })?;
    if !plan.is_empty() {
        ui.info(&format!(
            "auth: locked {}\n{}",
            plan.summary(),
            plan.render().trim_end()
        ));
        for c in plan.loosened() {
            ui.warn(&format!(
                "auth: {} admits more callers than before: review it",
                c.path
            ));
        }
    } else {
        ui.info("auth: no permission changes");
    }
    if written {
        ui.info(&format!("auth: wrote {}", path.display()));
    }
    Ok(written && !existed)
}

fn base_image(ws: &Workspace) -> String {
    ws.cell_image(
        CELL_NAME,
        "base_image",
        cell::BASE_IMAGE_ENV,
        cell::DEFAULT_BASE_IMAGE,
    )
}

fn audience(ws: &Workspace) -> String {
    ws.cell_setting(CELL_NAME, "audience")
        .unwrap_or_else(|| cell::DEFAULT_AUDIENCE.to_string())
}

fn random_secret() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// Finds or starts the token service and waits until it answers; writes the state.
pub async fn up(ws: &Workspace, engine: &Engine, ui: &Ui) -> Result<State> {
    let base = base_image(ws);
    let image = ensure_image(engine, &base, ui).await?;
    let existing = engine.find_cell(&ws.id, CELL_NAME).await?;
    let old_state = read_state(ws).ok();
    let secret = existing
        .as_ref()
        .and_then(|c| c.env_var(cell::ENV_ADMIN_SECRET).map(str::to_string))
        .or_else(|| old_state.map(|s| s.admin_secret))
        .unwrap_or_else(random_secret);
    let issuer = cell::dev_issuer(&ws.id.id);
    let audience = audience(ws);
    let spec = CellSpec {
        cell: CELL_NAME.to_string(),
        image,
        env: vec![
            (cell::ENV_ISSUER.into(), issuer.clone()),
            (cell::ENV_AUDIENCE.into(), audience.clone()),
            (cell::ENV_ADMIN_SECRET.into(), secret.clone()),
        ],
        cmd: Some(vec![
            cell::BINARY_PATH.into(),
            "cell".into(),
            "auth".into(),
            "serve".into(),
            "--listen".into(),
            format!("0.0.0.0:{}", cell::CONTAINER_PORT),
            "--data".into(),
            cell::DATA_PATH.into(),
        ]),
        container_port: cell::CONTAINER_PORT,
        data_path: cell::DATA_PATH.to_string(),
    };
    let running = engine.ensure_running(&ws.id, &spec, ui).await?;
    let url = format!("http://127.0.0.1:{}", running.host_port);
    let task = ui.task(CELL_NAME, "waiting for the token service");
    if let Err(e) = wait_ready(&url, engine, &running.container_id).await {
        task.fail("not ready");
        return Err(e);
    }
    task.finish(format!(
        "token service ready on 127.0.0.1:{} ({}container {})",
        running.host_port,
        if running.created { "new " } else { "" },
        &running.container_id[..running.container_id.len().min(12)]
    ));
    let state = State {
        issuer,
        audience,
        jwks_url: format!("{url}{}", cell::JWKS_PATH),
        algorithms: vec![cell::DEV_ALGORITHM.into()],
        url,
        admin_secret: secret,
        container_id: running.container_id,
    };
    write_state(ws, &state)?;
    Ok(state)
}

async fn wait_ready(url: &str, engine: &Engine, container_id: &str) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let health = format!("{url}{}", cell::HEALTH_PATH);
    let start = Instant::now();
    while start.elapsed() < READY_TIMEOUT {
        if let Ok(resp) = client.get(&health).send().await
            && resp.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(AuthCellError::Unhealthy {
        url: health,
        seconds: start.elapsed().as_secs(),
        logs: engine.logs_tail(container_id, 20).await,
    })
}

/// The token service as Docker sees it now, without starting anything: the port is read from
/// the engine and the state file rewritten when stale. `None` when it does not run or this
/// workspace has no state for it (its admin secret lives only there and in the container).
pub async fn refresh(ws: &Workspace, engine: &Engine) -> Result<Option<State>> {
    let Some(running) = engine.find_cell(&ws.id, CELL_NAME).await? else {
        return Ok(None);
    };
    if running.host_port == 0 {
        return Ok(None);
    }
    let Ok(old) = read_state(ws) else {
        return Ok(None);
    };
    let url = format!("http://127.0.0.1:{}", running.host_port);
    let state = State {
        jwks_url: format!("{url}{}", cell::JWKS_PATH),
        url,
        container_id: running.container_id,
        ..old
    };
    write_state(ws, &state)?;
    Ok(Some(state))
}

/// Whether the token service at `url` answers its health check within `timeout`.
pub async fn is_ready(url: &str, timeout: Duration) -> bool {
    let Ok(client) = reqwest::Client::builder().timeout(timeout).build() else {
        return false;
    };
    client
        .get(format!("{url}{}", cell::HEALTH_PATH))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The variables the runtime's verifier reads (`Verifier::from_env`), and the token
/// service's URL (for tests that mint tokens), for a running dev Cell.
pub fn runtime_env(state: &State) -> Vec<(String, String)> {
    vec![
        (URL_ENV.into(), state.url.clone()),
        (cell::ENV_ISSUER.into(), state.issuer.clone()),
        (cell::ENV_AUDIENCE.into(), state.audience.clone()),
        ("CELL_AUTH_ALGORITHMS".into(), state.algorithms.join(",")),
        ("CELL_AUTH_JWKS_URL".into(), state.jwks_url.clone()),
    ]
}

/// The variable `cargo cell run` / `test` put the token service's URL in.
pub const URL_ENV: &str = "CELL_AUTH_URL";

/// Whether `[workspace.metadata.cell.auth] issuer` names a real issuer: then no dev token
/// service runs.
pub fn external_issuer(ws: &Workspace) -> bool {
    ws.cell_setting(CELL_NAME, "issuer").is_some()
}

fn write_state(ws: &Workspace, state: &State) -> Result<()> {
    // The state holds the admin secret: `state::write` keeps it out of version control.
    crate::state::write(ws, CELL_NAME, state)
        .map_err(|(path, source)| AuthCellError::Write { path, source })
}

fn read_state(ws: &Workspace) -> Result<State> {
    let path = state_path(ws);
    let bytes = std::fs::read(&path).map_err(|e| AuthCellError::NoState {
        why: format!("cannot read {}: {e}", path.display()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| AuthCellError::NoState {
        why: format!("{} is not valid: {e}", path.display()),
    })
}

/// The token service image: this executable on `base`, tagged by a hash of both, built
/// through the Docker API when missing (the build never pulls: `FROM` must exist locally
/// or be pullable by the engine).
async fn ensure_image(engine: &Engine, base: &str, ui: &Ui) -> Result<String> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| AuthCellError::Image {
            image: cell::IMAGE_REPOSITORY.into(),
            base: base.into(),
            why: format!("cannot find this executable: {e}"),
        })?;
    let meta = std::fs::metadata(&exe).map_err(|e| AuthCellError::Image {
        image: cell::IMAGE_REPOSITORY.into(),
        base: base.into(),
        why: format!("{}: {e}", exe.display()),
    })?;
    // Path, size and modification time identify a build of the binary without reading it.
    let mut h = Sha256::new();
    h.update(format!(
        "v1\n{base}\n{}\n{}\n{:?}\n",
        exe.display(),
        meta.len(),
        meta.modified().ok()
    ));
    let hash: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let tag = format!("{}:{hash}", cell::IMAGE_REPOSITORY);
    let docker = engine.docker();
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let fail = |why: String| AuthCellError::Image {
        image: tag.clone(),
        base: base.into(),
        why,
    };
    let task = ui.task(CELL_NAME, &format!("building {tag} from {base}"));
    let binary = std::fs::read(&exe).map_err(|e| fail(format!("{}: {e}", exe.display())))?;
    let dockerfile = format!(
        "FROM {base}\nCOPY cargo-cell {bin}\nEXPOSE {port}\nSTOPSIGNAL SIGTERM\nCMD [\"{bin}\", \"cell\", \"auth\", \"serve\"]\n",
        bin = cell::BINARY_PATH,
        port = cell::CONTAINER_PORT
    );
    let context = build_context(&dockerfile, &binary).map_err(|e| fail(e.to_string()))?;
    let labels = HashMap::from([(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string())]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    task.fail("build failed");
                    return Err(fail(err));
                }
                if let Some(s) = info.stream {
                    let s = s.trim();
                    if !s.is_empty() {
                        last = s.to_string();
                        ui.verbose(&format!("auth: {s}"));
                    }
                }
            }
            Err(e) => {
                task.fail("build failed");
                return Err(fail(e.to_string()));
            }
        }
    }
    if docker.inspect_image(&tag).await.is_err() {
        task.fail("build failed");
        return Err(fail(format!(
            "the engine built no image (last output: {last})"
        )));
    }
    task.finish(format!("built {tag}"));
    Ok(tag)
}

fn build_context(dockerfile: &str, binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, mode: u32, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)
    };
    add("Dockerfile", 0o644, dockerfile.as_bytes())?;
    add("cargo-cell", 0o755, binary)?;
    tar.into_inner()
}

/// `cargo cell auth ...`. `serve` runs inside the container, without a workspace.
pub async fn command(
    args: AuthArgs,
    g: &GlobalArgs,
    _ui: &Ui,
) -> Result<ExitCode, crate::error::Error> {
    match args.command {
        AuthCommand::Serve(s) => {
            let config = cell_auth::server::ServerConfig::from_env(s.listen, s.data)
                .map_err(AuthCellError::Serve)?;
            cell_auth::server::run(config)
                .await
                .map_err(AuthCellError::Serve)?;
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Token(t) => {
            let ws = Workspace::load(g.manifest_path.as_deref())?;
            let token = mint(&ws, t).await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn mint(ws: &Workspace, t: TokenArgs) -> Result<String> {
    let state = read_state(ws)?;
    let req = MintRequest {
        sub: t.sub,
        roles: t.roles,
        aud: t.aud,
        ttl: t.ttl,
    };
    let url = format!("{}{}", state.url, cell::MINT_PATH);
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&state.admin_secret)
        .json(&req)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| AuthCellError::Mint {
            why: format!("POST {url}: {e}"),
        })?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(AuthCellError::Mint {
            why: format!("HTTP {status}: {body}"),
        });
    }
    let body: MintResponse = resp
        .json()
        .await
        .map_err(|e| AuthCellError::Mint { why: e.to_string() })?;
    Ok(body.token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_auth::rule::Rule;

    #[test]
    fn guards_are_merged_by_path() {
        let mut guards = Vec::new();
        let g = |p: &str, r: Rule| GuardDecl {
            path: p.into(),
            rule: r,
        };
        add_guard(&mut guards, g("app::b", Rule::Protected), "app").unwrap();
        add_guard(&mut guards, g("app::a", Rule::any(["admin"])), "app").unwrap();
        add_guard(&mut guards, g("app::a", Rule::any(["admin"])), "app").unwrap();
        assert_eq!(
            guards.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
            ["app::a", "app::b"]
        );
        let err = add_guard(&mut guards, g("app::a", Rule::Protected), "app").unwrap_err();
        assert!(err.to_string().contains("guarded twice"), "{err}");
    }

    #[test]
    fn the_build_context_holds_the_dockerfile_and_the_binary() {
        let bytes = build_context("FROM x\n", b"\x7fELF").unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let names: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("Dockerfile".into(), 0o644), ("cargo-cell".into(), 0o755)]
        );
    }
}

//! The Auth Cell's live side ([`LiveCell`]): the dev token service's image and container, its
//! state, plan and apply of the permission lock, and `cargo cell auth token|serve`.
//!
//! The token service is cargo-cell's own executable (`cargo-cell cell auth serve`) on a
//! Debian-based image: [`LiveCell::prepare`] builds that image through the Docker API, from
//! a build context holding the executable, so users need nothing but a base image (default
//! `debian:bookworm-slim`; `[workspace.metadata.cell.auth] base_image` or
//! `CELL_AUTH_BASE_IMAGE`). With `[workspace.metadata.cell.auth] issuer = "https://..."` no
//! container runs: the application verifies that issuer's tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use async_trait::async_trait;
use clap::{Args, FromArgMatches as _, Subcommand};

use cell_core::docker::{DockerError, Engine, File, RunningCell};
use cell_core::live::{
    Applied, ApplyOptions, BoxError, ContainerSpec, Context, Endpoint, LiveCell, Target,
};
use cell_core::lockfile::LockFile as _;
use cell_core::ui::Ui;
use cell_core::{CellError, CellPlan, Manifest, Workspace};

use crate::CELL_NAME;
use crate::cell::{self, MintRequest, MintResponse, State};
use crate::cell_impl::{AuthCell, URL_ENV, cell_plan, external_issuer, lock_path, plan};
use crate::error::AuthCellError;
use crate::lock::Lock;

/// What `cargo cell --help` says of `cargo cell auth`.
pub const ABOUT: &str =
    "The Auth Cell: `cargo cell auth token --role admin --sub alice` mints a dev token.";

/// How to get a base image where nothing can be pulled (for the missing-image help).
pub const IMAGE_HINT: &str = "build a local Debian base image with `scripts/build-debian-base` and use it with CELL_AUTH_BASE_IMAGE=cargo-cell/debian:bookworm-slim";

/// What the progress line says while the service starts.
pub const WAITING_FOR: &str = "waiting for the token service";

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

/// `cargo cell auth`, as clap sees it.
pub fn command() -> clap::Command {
    AuthArgs::augment_args(clap::Command::new(CELL_NAME))
        .about(ABOUT)
        .long_about(None)
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

/// This executable, and the tag of the token service image made of it on `base`: a hash of
/// path, size and modification time (which identify a build of the binary without reading
/// it) and of the base.
fn executable(base: &str) -> Result<(PathBuf, String), AuthCellError> {
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
    let tag = image_tag(&format!(
        "v1\n{base}\n{}\n{}\n{:?}\n",
        exe.display(),
        meta.len(),
        meta.modified().ok()
    ));
    Ok((exe, tag))
}

/// `cargo-cell/auth-token-service:<16 hex digits of the SHA-256 of identity>`.
fn image_tag(identity: &str) -> String {
    format!(
        "{}:{}",
        cell::IMAGE_REPOSITORY,
        cell_core::workspace::short_hash(identity.as_bytes(), 16)
    )
}

/// The token service's container, as data.
fn spec(ws: &Workspace, image: String, secret: String) -> ContainerSpec {
    ContainerSpec {
        cell: CELL_NAME.to_string(),
        image,
        env: vec![
            (cell::ENV_ISSUER.into(), cell::dev_issuer(&ws.id.id)),
            (cell::ENV_AUDIENCE.into(), audience(ws)),
            (cell::ENV_ADMIN_SECRET.into(), secret),
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
        image_env: cell::BASE_IMAGE_ENV.to_string(),
        image_hint: IMAGE_HINT.to_string(),
    }
}

fn spec_env(spec: &ContainerSpec, key: &str) -> Option<String> {
    spec.env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

/// The state of a service just started from `spec`; else of the running one, from the state
/// file (the admin secret lives only there and in the container): `None` without one.
fn state(ws: &Workspace, running: &RunningCell, spec: Option<&ContainerSpec>) -> Option<State> {
    let url = format!("http://127.0.0.1:{}", running.host_port);
    let jwks_url = format!("{url}{}", cell::JWKS_PATH);
    Some(match spec {
        Some(spec) => State {
            issuer: spec_env(spec, cell::ENV_ISSUER)?,
            audience: spec_env(spec, cell::ENV_AUDIENCE)?,
            jwks_url,
            algorithms: vec![cell::DEV_ALGORITHM.into()],
            url,
            admin_secret: spec_env(spec, cell::ENV_ADMIN_SECRET)?,
            container_id: running.container_id.clone(),
        },
        None => State {
            jwks_url,
            url,
            container_id: running.container_id.clone(),
            ..read_state(ws).ok()?
        },
    })
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

/// `.cell/state/auth.json`.
pub fn read_state(ws: &Workspace) -> Result<State, AuthCellError> {
    let path = cell_core::state::path(ws, CELL_NAME);
    let bytes = std::fs::read(&path).map_err(|e| AuthCellError::NoState {
        why: format!("cannot read {}: {e}", path.display()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| AuthCellError::NoState {
        why: format!("{} is not valid: {e}", path.display()),
    })
}

/// Builds the token service image `tag`: this executable on `base`, through the core's
/// Docker wrapper (the build never pulls by itself: `FROM` must exist locally or be pullable
/// by the engine).
async fn build_image(
    engine: &Engine,
    exe: &std::path::Path,
    tag: &str,
    base: &str,
    ui: &Ui,
) -> Result<(), AuthCellError> {
    let fail = |why: String| AuthCellError::Image {
        image: tag.to_string(),
        base: base.into(),
        why,
    };
    let task = ui.task(CELL_NAME, &format!("building {tag} from {base}"));
    let binary = std::fs::read(exe).map_err(|e| fail(format!("{}: {e}", exe.display())))?;
    let dockerfile = format!(
        "FROM {base}\nCOPY cargo-cell {bin}\nEXPOSE {port}\nSTOPSIGNAL SIGTERM\nCMD [\"{bin}\", \"cell\", \"auth\", \"serve\"]\n",
        bin = cell::BINARY_PATH,
        port = cell::CONTAINER_PORT
    );
    let files = [
        File {
            name: "Dockerfile",
            mode: 0o644,
            bytes: dockerfile.as_bytes(),
        },
        File {
            name: "cargo-cell",
            mode: 0o755,
            bytes: &binary,
        },
    ];
    let built = engine
        .build_image(tag, &files, |line| ui.verbose(&format!("auth: {line}")))
        .await;
    match built {
        Ok(()) => {
            task.finish(format!("built {tag}"));
            Ok(())
        }
        Err(e) => {
            task.fail("build failed");
            Err(fail(match e {
                DockerError::Build { why, .. } => why,
                other => other.to_string(),
            }))
        }
    }
}

/// `cargo cell auth token`: a token from the workspace's dev token service.
async fn mint(ws: &Workspace, t: TokenArgs) -> Result<String, AuthCellError> {
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

#[async_trait]
impl LiveCell for AuthCell {
    /// No dev token service when `[workspace.metadata.cell.auth] issuer` is set.
    fn runs_locally(&self, ws: &Workspace) -> bool {
        external_issuer(ws).is_none()
    }

    /// The image is named after this executable (cheap: no file is read); the admin secret
    /// is the running container's, else the state file's, else a new one.
    async fn container(
        &self,
        cx: &Context<'_>,
        existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        let (_, image) = executable(&base_image(cx.ws))?;
        let secret = existing
            .and_then(|c| c.env_var(cell::ENV_ADMIN_SECRET).map(str::to_string))
            .or_else(|| read_state(cx.ws).ok().map(|s| s.admin_secret))
            .unwrap_or_else(|| cell_core::live::random_secret(40));
        Ok(spec(cx.ws, image, secret))
    }

    /// Builds the image when its tag is missing.
    async fn prepare(&self, cx: &Context<'_>, spec: &ContainerSpec) -> Result<(), CellError> {
        let engine = cx.engine().await?;
        if engine.has_image(&spec.image).await? {
            return Ok(());
        }
        let base = base_image(cx.ws);
        let (exe, _) = executable(&base)?;
        build_image(engine, &exe, &spec.image, &base, cx.ui).await?;
        Ok(())
    }

    fn waiting_for(&self) -> &'static str {
        WAITING_FOR
    }

    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        let state = state(ws, running, spec)?;
        let endpoint = Endpoint {
            url: state.url.clone(),
            port: running.host_port,
            container_id: state.container_id.clone(),
            env: runtime_env(&state),
            state: None,
        };
        Some(endpoint.with_state(&state))
    }

    /// GET of the health path answers 2xx.
    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()?;
        let url = format!("{}{}", endpoint.url, cell::HEALTH_PATH);
        let status = client.get(&url).send().await?.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("GET {url}: HTTP {status}").into())
        }
    }

    /// The permission changes against the lock (no live service needed); `None` without
    /// guards and without a lock.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        Ok(cell_plan(cx.ws, AuthCell::guards(manifest))?.map(|p| Box::new(p) as Box<dyn CellPlan>))
    }

    /// On the dev target: the token service up (unless an issuer is configured) and the lock
    /// written. Elsewhere nothing (tokens come from the environment's issuer).
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        _how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        if cx.target != Target::Dev {
            return Ok(Applied::default());
        }
        let (ws, ui) = (cx.ws, cx.ui);
        let guards = AuthCell::guards(manifest);
        let path = lock_path(ws);
        if guards.is_empty() && !path.exists() {
            return Ok(Applied::default());
        }
        let plan = plan(ws, guards)?;
        if !guards.is_empty() {
            match external_issuer(ws) {
                Some(issuer) => ui.verbose(&format!(
                    "auth: tokens come from {issuer}; no dev token service"
                )),
                None => {
                    cx.up(self).await?;
                }
            }
        }
        let lock = Lock::from_guards(guards).map_err(AuthCellError::from)?;
        let existed = path.exists();
        let written =
            cell_core::lockfile::write_if_changed(&path, &lock.to_bytes()).map_err(|source| {
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
        Ok(Applied {
            used: true,
            lock_created: written && !existed,
        })
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![command()]
    }

    /// `cargo cell auth token` (needs the workspace) and `serve` (runs inside the Cell's
    /// container, without one).
    async fn run_command(
        &self,
        name: &str,
        matches: &clap::ArgMatches,
        load: &(dyn Fn() -> Result<Workspace, CellError> + Send + Sync),
        _ui: &Ui,
    ) -> Result<ExitCode, CellError> {
        if name != CELL_NAME {
            return Ok(ExitCode::FAILURE);
        }
        let args = AuthArgs::from_arg_matches(matches).unwrap_or_else(|e| e.exit());
        match args.command {
            AuthCommand::Serve(s) => {
                let config = crate::server::ServerConfig::from_env(s.listen, s.data)
                    .map_err(AuthCellError::Serve)?;
                crate::server::run(config)
                    .await
                    .map_err(AuthCellError::Serve)?;
                Ok(ExitCode::SUCCESS)
            }
            AuthCommand::Token(t) => {
                let ws = load()?;
                let token = mint(&ws, t).await?;
                println!("{token}");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(port: u16) -> RunningCell {
        RunningCell {
            cell: "auth".into(),
            container_id: "0123456789abcdef".into(),
            container_name: "cell-x-auth".into(),
            image: "cargo-cell/auth-token-service:00".into(),
            host_port: port,
            env: vec![],
            created: true,
        }
    }

    #[test]
    fn the_image_tag_is_a_short_hash_of_binary_and_base() {
        let a = image_tag("v1\ndebian:bookworm-slim\n/x/cargo-cell\n10\nNone\n");
        assert!(a.starts_with("cargo-cell/auth-token-service:"), "{a}");
        assert_eq!(a.len(), "cargo-cell/auth-token-service:".len() + 16);
        assert_ne!(a, image_tag("v1\nother\n/x/cargo-cell\n10\nNone\n"));
        let (exe, tag) = executable("debian:bookworm-slim").unwrap();
        assert!(exe.is_absolute());
        assert_eq!(executable("debian:bookworm-slim").unwrap().1, tag);
    }

    #[test]
    fn the_container_runs_serve_and_names_the_base_image_variable() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        let s = spec(&ws, "img".into(), "secret".into());
        assert_eq!(s.image_env, "CELL_AUTH_BASE_IMAGE");
        assert!(s.image_hint.contains("scripts/build-debian-base"));
        assert_eq!(
            s.cmd.as_deref().unwrap().join(" "),
            "/usr/local/bin/cargo-cell cell auth serve --listen 0.0.0.0:8080 --data /data"
        );
        assert_eq!(
            spec_env(&s, "CELL_AUTH_ISSUER").unwrap(),
            format!("urn:cargo-cell:dev:{}", ws.id.id)
        );
        assert_eq!(spec_env(&s, "CELL_AUTH_AUDIENCE").unwrap(), "cell-app");
    }

    #[test]
    fn the_endpoint_comes_from_the_spec_or_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::bare(dir.path());
        // Not started by us and no state file: the admin secret is unknown.
        assert!(AuthCell.endpoint(&ws, &running(4000), None).is_none());
        let s = spec(&ws, "img".into(), "secret".into());
        let e = AuthCell.endpoint(&ws, &running(4000), Some(&s)).unwrap();
        assert_eq!(e.url, "http://127.0.0.1:4000");
        assert_eq!(e.port, 4000);
        let env: std::collections::HashMap<_, _> = e.env.iter().cloned().collect();
        assert_eq!(env["CELL_AUTH_URL"], "http://127.0.0.1:4000");
        assert_eq!(env["CELL_AUTH_ALGORITHMS"], "ES256");
        assert_eq!(
            env["CELL_AUTH_JWKS_URL"],
            "http://127.0.0.1:4000/.well-known/jwks.json"
        );
        assert_eq!(e.env[0].0, "CELL_AUTH_URL");
        let state: State = serde_json::from_slice(e.state.as_ref().unwrap()).unwrap();
        assert_eq!(state.admin_secret, "secret");
        // The state file as the generic `up` writes it; a restart moves the port.
        cell_core::state::write_bytes(&ws, "auth.json", e.state.as_ref().unwrap()).unwrap();
        let moved = AuthCell.endpoint(&ws, &running(5000), None).unwrap();
        let moved_state: State = serde_json::from_slice(moved.state.as_ref().unwrap()).unwrap();
        assert_eq!(
            moved_state,
            State {
                url: "http://127.0.0.1:5000".into(),
                jwks_url: "http://127.0.0.1:5000/.well-known/jwks.json".into(),
                ..state
            }
        );
        assert_eq!(read_state(&ws).unwrap().admin_secret, "secret");
    }

    #[test]
    fn an_issuer_means_no_local_service() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::bare(dir.path());
        assert!(AuthCell.runs_locally(&ws));
        ws.config = serde_json::json!({"auth": {"issuer": "https://id.example"}});
        assert!(!AuthCell.runs_locally(&ws));
    }

    #[test]
    fn the_auth_command_parses_as_before() {
        let cmd = command();
        assert_eq!(cmd.get_name(), "auth");
        assert_eq!(cmd.get_about().unwrap().to_string(), ABOUT);
        let m = cmd
            .clone()
            .try_get_matches_from([
                "auth", "token", "--role", "admin", "--role", "support", "--sub", "alice",
            ])
            .unwrap();
        let args = AuthArgs::from_arg_matches(&m).unwrap();
        let AuthCommand::Token(t) = args.command else {
            panic!("token")
        };
        assert_eq!((t.sub.as_str(), t.roles.len(), t.ttl), ("alice", 2, 3600));
        let m = cmd
            .clone()
            .try_get_matches_from(["auth", "token", "--ttl", "-60", "--aud", "other"])
            .unwrap();
        let AuthCommand::Token(t) = AuthArgs::from_arg_matches(&m).unwrap().command else {
            panic!("token")
        };
        assert_eq!((t.ttl, t.aud.as_deref()), (-60, Some("other")));
        let m = cmd
            .clone()
            .try_get_matches_from(["auth", "serve", "--listen", "0.0.0.0:9000"])
            .unwrap();
        assert!(matches!(
            AuthArgs::from_arg_matches(&m).unwrap().command,
            AuthCommand::Serve(_)
        ));
        assert!(cmd.clone().try_get_matches_from(["auth"]).is_err());
        assert!(cmd.try_get_matches_from(["auth", "launch"]).is_err());
    }
}

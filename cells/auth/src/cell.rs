//! The Auth Cell's container and state, described as data.
//!
//! In dev the Cell is a small token service (`cargo-cell cell auth serve`, the project's own
//! binary on a Debian-based image): it holds an ES256 signing key in its data volume, serves
//! the JWKS, and mints tokens for `cargo cell auth token`. In other environments the
//! application verifies tokens of an OIDC issuer given by `CELL_AUTH_ISSUER`.

use serde::{Deserialize, Serialize};

/// The base image of the token service image, unless `[workspace.metadata.cell.auth]
/// base_image` or `CELL_AUTH_BASE_IMAGE` says otherwise.
pub const DEFAULT_BASE_IMAGE: &str = "debian:bookworm-slim";
pub const BASE_IMAGE_ENV: &str = "CELL_AUTH_BASE_IMAGE";
/// The repository of the built token service image; its tag is a hash of binary and base.
pub const IMAGE_REPOSITORY: &str = "cargo-cell/auth-token-service";
pub const CONTAINER_PORT: u16 = 8080;
pub const DATA_PATH: &str = "/data";
/// The binary's path inside the image.
pub const BINARY_PATH: &str = "/usr/local/bin/cargo-cell";

/// The dev service signs with this algorithm; the runtime is configured with it (never
/// taken from a token).
pub const DEV_ALGORITHM: &str = "ES256";
/// The audience when `[workspace.metadata.cell.auth] audience` is not set.
pub const DEFAULT_AUDIENCE: &str = "cell-app";

/// Container environment of the token service.
pub const ENV_ISSUER: &str = "CELL_AUTH_ISSUER";
pub const ENV_AUDIENCE: &str = "CELL_AUTH_AUDIENCE";
pub const ENV_ADMIN_SECRET: &str = "CELL_AUTH_ADMIN_SECRET";

/// Paths the token service serves.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const OIDC_CONFIG_PATH: &str = "/.well-known/openid-configuration";
pub const MINT_PATH: &str = "/mint";
pub const HEALTH_PATH: &str = "/health";

/// The dev issuer of a workspace: stable across restarts and host ports.
pub fn dev_issuer(workspace_id: &str) -> String {
    format!("urn:cargo-cell:dev:{workspace_id}")
}

/// `.cell/state/auth.json` (git-ignored): how the application and `cargo cell auth token`
/// reach the dev token service. Runtime overrides: `CELL_AUTH_*` variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub algorithms: Vec<String>,
    /// The token service's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Guards the mint endpoint.
    pub admin_secret: String,
    pub container_id: String,
}

/// What a mint request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintRequest {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Defaults to the service's audience.
    #[serde(default)]
    pub aud: Option<String>,
    /// Seconds from now until `exp` (negative mints an expired token, for tests).
    #[serde(default = "default_ttl")]
    pub ttl: i64,
}

pub fn default_ttl() -> i64 {
    3600
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintResponse {
    pub token: String,
}

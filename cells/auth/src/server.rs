//! The dev token service: an ES256 signing key kept in its data directory, the JWKS, an
//! OIDC discovery document, and a mint endpoint guarded by an admin secret. It runs inside
//! the Auth Cell's container (`cargo-cell cell auth serve`) and is for development only:
//! it mints any token its admin asks for.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::cell::{self, MintRequest, MintResponse};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub issuer: String,
    pub audience: String,
    pub admin_secret: String,
}

impl ServerConfig {
    /// From the container's environment (see [`crate::cell`]).
    pub fn from_env(listen: SocketAddr, data_dir: PathBuf) -> Result<ServerConfig, String> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{k} is not set"))
        };
        let admin_secret = var(cell::ENV_ADMIN_SECRET)?;
        if admin_secret.len() < 16 {
            return Err(format!(
                "{} must be at least 16 characters",
                cell::ENV_ADMIN_SECRET
            ));
        }
        Ok(ServerConfig {
            listen,
            data_dir,
            issuer: var(cell::ENV_ISSUER)?,
            audience: var(cell::ENV_AUDIENCE)?,
            admin_secret,
        })
    }
}

/// The signing key and what is published of it.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    /// The JWK of the public key.
    pub jwk: serde_json::Value,
}

impl SigningKey {
    /// Loads `dir/signing-key.p8` (PKCS#8), creating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, String> {
        let path = dir.join("signing-key.p8");
        let rng = SystemRandom::new();
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| "cannot generate a P-256 key".to_string())?;
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let tmp = dir.join(".signing-key.p8.tmp");
                std::fs::write(&tmp, doc.as_ref())
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        SigningKey::from_pkcs8(&pkcs8)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, String> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|e| format!("the signing key is not a P-256 PKCS#8 key: {e}"))?;
        let public = pair.public_key().as_ref();
        // Uncompressed point: 0x04 || x || y.
        if public.len() != 65 {
            return Err("unexpected public key encoding".into());
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, public);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..]),
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        });
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_ec_der(pkcs8),
            jwk,
        })
    }

    /// A signed token for `req`, issued now.
    pub fn mint(&self, issuer: &str, audience: &str, req: &MintRequest) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs() as i64;
        let claims = serde_json::json!({
            "sub": req.sub,
            "roles": req.roles,
            "iss": issuer,
            "aud": req.aud.as_deref().unwrap_or(audience),
            "iat": now,
            "nbf": now.min(now + req.ttl),
            "exp": now + req.ttl,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| e.to_string())
    }
}

struct App {
    config: ServerConfig,
    key: SigningKey,
}

/// Serves until the process is stopped.
pub async fn run(config: ServerConfig) -> Result<(), String> {
    let key = SigningKey::load_or_create(&config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    eprintln!(
        "cell-auth token service: issuer {}, audience {}, key {}, listening on {}",
        config.issuer, config.audience, key.kid, config.listen
    );
    let app = router(Arc::new(App { config, key }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(cell::HEALTH_PATH, get(|| async { "ok" }))
        .route(cell::JWKS_PATH, get(jwks))
        .route(cell::OIDC_CONFIG_PATH, get(discovery))
        .route(cell::MINT_PATH, post(mint))
        .with_state(app)
}

async fn jwks(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [app.key.jwk] }))
}

async fn discovery(State(app): State<Arc<App>>, headers: HeaderMap) -> Json<serde_json::Value> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    Json(serde_json::json!({
        "issuer": app.config.issuer,
        "jwks_uri": format!("http://{host}{}", cell::JWKS_PATH),
        "id_token_signing_alg_values_supported": [cell::DEV_ALGORITHM],
    }))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn mint(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(req): Json<MintRequest>,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare digests: equal lengths, and a timing difference tells nothing about the secret.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let ok = digest(presented).as_ref() == digest(&app.config.admin_secret).as_ref();
    if !ok {
        return error(StatusCode::UNAUTHORIZED, "minting needs the admin secret");
    }
    if req.sub.is_empty() {
        return error(StatusCode::BAD_REQUEST, "`sub` is empty");
    }
    match app.key.mint(&app.config.issuer, &app.config.audience, &req) {
        Ok(token) => Json(MintResponse { token }).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_the_published_key() {
        let dir = std::env::temp_dir().join(format!("cell-auth-key-{}", std::process::id()));
        let key = SigningKey::load_or_create(&dir).unwrap();
        let again = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(key.kid, again.kid, "the key survives restarts");
        std::fs::remove_dir_all(&dir).unwrap();

        let req = MintRequest {
            sub: "alice".into(),
            roles: vec!["admin".into()],
            aud: None,
            ttl: 60,
        };
        let token = key.mint("iss", "aud", &req).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.jwk.clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.set_issuer(&["iss"]);
        v.set_audience(&["aud"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &v).unwrap();
        assert_eq!(data.claims["roles"][0], "admin");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
    }
}

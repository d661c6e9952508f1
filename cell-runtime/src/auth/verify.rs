//! Verifying a bearer token: signature, `exp`/`nbf` with a small leeway, issuer, audience.
//! The algorithm comes from the configuration, never from the token: a header naming any
//! other (`none` included) is refused before a key is looked at, and the configured
//! algorithms must all be of the key's family, so an HMAC signature made with an RSA public
//! key as its secret (HS/RS confusion) cannot verify.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::context::AuthContext;
use super::error::TokenRejection;
use super::jwks::{JwksCache, JwksSource};

/// The leeway on `exp` and `nbf`, for clock skew.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The claims a verified token carries. `roles` is the claim the guards read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    /// A string or a list of strings.
    pub aud: serde_json::Value,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The expected `iss`.
    pub issuer: String,
    /// Accepted `aud` values (a token must name one of them).
    pub audience: Vec<String>,
    /// Accepted algorithms, all of one family (HMAC, RSA, EC, ...).
    pub algorithms: Vec<Algorithm>,
    pub leeway_secs: u64,
}

impl VerifierConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, algorithm: Algorithm) -> Self {
        VerifierConfig {
            issuer: issuer.into(),
            audience: vec![audience.into()],
            algorithms: vec![algorithm],
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

/// A configuration that cannot verify anything safely.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error(
        "the Auth Cell is not configured: {why}\nhelp: run `cargo cell build` to start the dev token service, or set CELL_AUTH_ISSUER and CELL_AUTH_AUDIENCE (deployment)"
    )]
    NotConfigured { why: String },
    #[error("invalid Auth configuration: {what}\nhelp: {help}")]
    Invalid { what: String, help: String },
}

fn invalid(what: impl Into<String>, help: &str) -> ConfigError {
    ConfigError::Invalid {
        what: what.into(),
        help: help.into(),
    }
}

enum Keys {
    Static(DecodingKey),
    Jwks(JwksCache),
}

/// Verifies tokens; build one per process ([`Verifier::global`] or [`Verifier::install`]).
pub struct Verifier {
    config: VerifierConfig,
    validation: Validation,
    keys: Keys,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn is_hmac(a: Algorithm) -> bool {
    matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn family(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => "HMAC",
        Algorithm::ES256 | Algorithm::ES384 => "EC",
        Algorithm::EdDSA => "Ed25519",
        _ => "RSA",
    }
}

impl Verifier {
    fn new(config: VerifierConfig, keys: Keys) -> Result<Verifier, ConfigError> {
        let Some(first) = config.algorithms.first().copied() else {
            return Err(invalid("no algorithm is configured", "name the algorithm your issuer signs with, such as RS256"));
        };
        if let Some(other) = config.algorithms.iter().find(|a| family(**a) != family(first)) {
            return Err(invalid(
                format!("{first:?} and {other:?} are of different families"),
                "configure algorithms of one family only: mixing HMAC with RSA or EC is how algorithm confusion attacks work",
            ));
        }
        let hmac = is_hmac(first);
        match (&keys, hmac) {
            (Keys::Jwks(_), true) => {
                return Err(invalid(
                    "HMAC algorithms with a JWKS",
                    "an HMAC secret is never published: use Verifier::with_secret for HS256, or an asymmetric algorithm with a JWKS",
                ));
            }
            (_, _) => {}
        }
        if config.issuer.is_empty() || config.audience.iter().all(String::is_empty) {
            return Err(invalid("the issuer or the audience is empty", "set both: a token is accepted only for its issuer and audience"));
        }
        let mut validation = Validation::new(first);
        validation.algorithms = config.algorithms.clone();
        validation.leeway = config.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Verifier { config, validation, keys })
    }

    /// HMAC (`HS256`, ...) with a shared secret of at least 32 bytes.
    pub fn with_secret(config: VerifierConfig, secret: &[u8]) -> Result<Verifier, ConfigError> {
        if !config.algorithms.iter().all(|a| is_hmac(*a)) {
            return Err(invalid("a shared secret with a non-HMAC algorithm", "use Verifier::with_key for RSA or EC public keys"));
        }
        if secret.len() < 32 {
            return Err(invalid("the HMAC secret is shorter than 32 bytes", "use a random secret of 32 bytes or more"));
        }
        Verifier::new(config, Keys::Static(DecodingKey::from_secret(secret)))
    }

    /// One public key (RSA or EC), such as `DecodingKey::from_rsa_pem(...)`.
    pub fn with_key(config: VerifierConfig, key: DecodingKey) -> Result<Verifier, ConfigError> {
        if config.algorithms.iter().any(|a| is_hmac(*a)) {
            return Err(invalid("a public key with an HMAC algorithm", "use Verifier::with_secret for HS256"));
        }
        Verifier::new(config, Keys::Static(key))
    }

    /// Keys from a JWKS URL, fetched on first use and again when a token names an unknown `kid`.
    pub fn with_jwks_url(config: VerifierConfig, url: impl Into<String>) -> Result<Verifier, ConfigError> {
        let cache = JwksCache::new(JwksSource::Url(url.into()))?;
        Verifier::new(config, Keys::Jwks(cache))
    }

    /// Keys of an OIDC issuer: its discovery document names the JWKS.
    pub fn with_oidc_discovery(config: VerifierConfig) -> Result<Verifier, ConfigError> {
        let cache = JwksCache::new(JwksSource::Discover(config.issuer.clone()))?;
        Verifier::new(config, Keys::Jwks(cache))
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// From `CELL_AUTH_*` variables, else the dev Cell's state (see the module docs).
    pub fn from_env() -> Result<Verifier, ConfigError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(issuer) = var("CELL_AUTH_ISSUER") {
            let audience = var("CELL_AUTH_AUDIENCE").ok_or_else(|| {
                invalid("CELL_AUTH_ISSUER is set but CELL_AUTH_AUDIENCE is not", "set CELL_AUTH_AUDIENCE to the audience your tokens are issued for")
            })?;
            let algorithms = parse_algorithms(&var("CELL_AUTH_ALGORITHMS").unwrap_or_else(|| "RS256".into()))?;
            let config = VerifierConfig {
                issuer,
                audience: audience.split(',').map(|s| s.trim().to_string()).collect(),
                algorithms,
                leeway_secs: DEFAULT_LEEWAY_SECS,
            };
            return match var("CELL_AUTH_JWKS_URL") {
                Some(url) => Verifier::with_jwks_url(config, url),
                None => Verifier::with_oidc_discovery(config),
            };
        }
        let state = find_dev_state()?;
        let config = VerifierConfig {
            issuer: state.issuer,
            audience: vec![state.audience],
            algorithms: parse_algorithms(&state.algorithms.join(","))?,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        };
        Verifier::with_jwks_url(config, state.jwks_url)
    }

    /// Makes `self` the verifier of every `AuthContext` extractor. Returns it (or the one
    /// installed before, which stays).
    pub fn install(self) -> Arc<Verifier> {
        let v = Arc::new(self);
        GLOBAL.get_or_init(|| v.clone()).clone()
    }

    /// The installed verifier, else one [`Verifier::from_env`] (kept once it succeeds).
    pub fn global() -> Result<Arc<Verifier>, ConfigError> {
        if let Some(v) = GLOBAL.get() {
            return Ok(v.clone());
        }
        Ok(Verifier::from_env()?.install())
    }

    /// Verifies with the keys at hand; `Err(None)` when the token names a key that is not
    /// cached yet (then [`Verifier::verify`] refreshes the JWKS).
    pub fn verify_cached(&self, token: &str) -> Result<Claims, Option<TokenRejection>> {
        let alg = self.check_header(token)?;
        let claims = match &self.keys {
            Keys::Static(key) => self.decode(token, key),
            Keys::Jwks(cache) => {
                let kid = jsonwebtoken::decode_header(token)
                    .ok()
                    .and_then(|h| h.kid)
                    .ok_or(TokenRejection::UnknownKey)?;
                let Some(key) = cache.get(&kid) else {
                    return Err(None);
                };
                if key.algorithm.is_some_and(|a| a != alg) {
                    return Err(Some(TokenRejection::Algorithm(format!("{alg:?} (key {kid} is for another)"))));
                }
                self.decode(token, &key.key)
            }
        };
        claims.map_err(Some)
    }

    /// Verifies `token`, refreshing the JWKS once when it names an unknown key.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenRejection> {
        match self.verify_cached(token) {
            Ok(c) => Ok(c),
            Err(Some(r)) => Err(r),
            Err(None) => {
                let Keys::Jwks(cache) = &self.keys else {
                    return Err(TokenRejection::UnknownKey);
                };
                cache
                    .refresh(&self.config.algorithms)
                    .await
                    .map_err(TokenRejection::KeysUnavailable)?;
                self.verify_cached(token)
                    .map_err(|r| r.unwrap_or(TokenRejection::UnknownKey))
            }
        }
    }

    /// The context of a request from its `Authorization` header value.
    pub async fn context(&self, authorization: Option<&str>) -> AuthContext {
        let Some(value) = authorization else {
            return AuthContext::anonymous();
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
            _ => {
                return AuthContext::rejected(TokenRejection::Malformed(
                    "expected `Authorization: Bearer <token>`".into(),
                ));
            }
        };
        match self.verify(token).await {
            Ok(claims) => AuthContext::from_claims(claims),
            Err(r) => AuthContext::rejected(r),
        }
    }

    /// The header's `alg` must be one of the configured algorithms, read before anything
    /// else so `none` or an unknown name is refused as such.
    fn check_header(&self, token: &str) -> Result<Algorithm, TokenRejection> {
        let header = token.split('.').next().unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header.trim_end_matches('='))
            .map_err(|_| TokenRejection::Malformed("the header is not base64url".into()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| TokenRejection::Malformed("the header is not JSON".into()))?;
        let name = value.get("alg").and_then(|a| a.as_str()).unwrap_or("(none given)");
        let alg = self
            .config
            .algorithms
            .iter()
            .copied()
            .find(|a| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(|s| s == name)) == Some(true));
        alg.ok_or_else(|| TokenRejection::Algorithm(name.to_string()))
    }

    fn decode(&self, token: &str, key: &DecodingKey) -> Result<Claims, TokenRejection> {
        use jsonwebtoken::errors::ErrorKind as K;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.into_kind() {
                K::InvalidSignature => TokenRejection::BadSignature,
                K::ExpiredSignature => TokenRejection::Expired,
                K::ImmatureSignature => TokenRejection::NotYetValid,
                K::InvalidIssuer => TokenRejection::WrongIssuer,
                K::InvalidAudience => TokenRejection::WrongAudience,
                K::MissingRequiredClaim(c) => TokenRejection::MissingClaim(c),
                K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
                    TokenRejection::Algorithm("(refused for this key)".into())
                }
                other => TokenRejection::Malformed(format!("{other:?}")),
            })
    }
}

static GLOBAL: OnceLock<Arc<Verifier>> = OnceLock::new();

fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Algorithm>().map_err(|_| {
                invalid(format!("unknown algorithm `{s}`"), "use RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA")
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct DevState {
    issuer: String,
    audience: String,
    jwks_url: String,
    algorithms: Vec<String>,
}

fn find_dev_state() -> Result<DevState, ConfigError> {
    let mut searched = Vec::new();
    let starts = [std::env::current_exe().ok(), std::env::current_dir().ok()];
    for start in starts.iter().flatten() {
        for dir in start.ancestors() {
            let path = dir.join(".cell").join("state").join("auth.json");
            if let Some(state) = read_state(&path) {
                return Ok(state);
            }
        }
        searched.push(start.display().to_string());
    }
    Err(ConfigError::NotConfigured {
        why: format!(
            "CELL_AUTH_ISSUER is not set, and no .cell/state/auth.json was found above {}",
            searched.join(" or ")
        ),
    })
}

fn read_state(path: &Path) -> Option<DevState> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

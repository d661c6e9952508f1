//! Verifying a bearer token: signature, `exp`/`nbf` with a small leeway, issuer, audience.
//! The algorithm comes from the configuration, never from the token: a header naming any
//! other (`none` included) is refused before a key is looked at, and the configured
//! algorithms must all be of the key's family, so an HMAC signature made with an RSA public
//! key as its secret (HS/RS confusion) cannot verify.

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
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        algorithm: Algorithm,
    ) -> Self {
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
            return Err(invalid(
                "no algorithm is configured",
                "name the algorithm your issuer signs with, such as RS256",
            ));
        };
        if let Some(other) = config
            .algorithms
            .iter()
            .find(|a| family(**a) != family(first))
        {
            return Err(invalid(
                format!("{first:?} and {other:?} are of different families"),
                "configure algorithms of one family only: mixing HMAC with RSA or EC is how algorithm confusion attacks work",
            ));
        }
        let hmac = is_hmac(first);
        if hmac && matches!(keys, Keys::Jwks(_)) {
            return Err(invalid(
                "HMAC algorithms with a JWKS",
                "an HMAC secret is never published: use Verifier::with_secret for HS256, or an asymmetric algorithm with a JWKS",
            ));
        }
        if config.issuer.is_empty() || config.audience.iter().all(String::is_empty) {
            return Err(invalid(
                "the issuer or the audience is empty",
                "set both: a token is accepted only for its issuer and audience",
            ));
        }
        let mut validation = Validation::new(first);
        validation.algorithms = config.algorithms.clone();
        validation.leeway = config.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Verifier {
            config,
            validation,
            keys,
        })
    }

    /// HMAC (`HS256`, ...) with a shared secret of at least 32 bytes.
    pub fn with_secret(config: VerifierConfig, secret: &[u8]) -> Result<Verifier, ConfigError> {
        if !config.algorithms.iter().all(|a| is_hmac(*a)) {
            return Err(invalid(
                "a shared secret with a non-HMAC algorithm",
                "use Verifier::with_key for RSA or EC public keys",
            ));
        }
        if secret.len() < 32 {
            return Err(invalid(
                "the HMAC secret is shorter than 32 bytes",
                "use a random secret of 32 bytes or more",
            ));
        }
        Verifier::new(config, Keys::Static(DecodingKey::from_secret(secret)))
    }

    /// One public key (RSA or EC), such as `DecodingKey::from_rsa_pem(...)`.
    pub fn with_key(config: VerifierConfig, key: DecodingKey) -> Result<Verifier, ConfigError> {
        if config.algorithms.iter().any(|a| is_hmac(*a)) {
            return Err(invalid(
                "a public key with an HMAC algorithm",
                "use Verifier::with_secret for HS256",
            ));
        }
        Verifier::new(config, Keys::Static(key))
    }

    /// Keys from a JWKS URL, fetched on first use and again when a token names an unknown `kid`.
    pub fn with_jwks_url(
        config: VerifierConfig,
        url: impl Into<String>,
    ) -> Result<Verifier, ConfigError> {
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
                invalid(
                    "CELL_AUTH_ISSUER is set but CELL_AUTH_AUDIENCE is not",
                    "set CELL_AUTH_AUDIENCE to the audience your tokens are issued for",
                )
            })?;
            let algorithms =
                parse_algorithms(&var("CELL_AUTH_ALGORITHMS").unwrap_or_else(|| "RS256".into()))?;
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
        let state: DevState = find_dev_state()?;
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
                    return Err(Some(TokenRejection::Algorithm(format!(
                        "{alg:?} (key {kid} is for another)"
                    ))));
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
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                token.trim()
            }
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
        let name = value
            .get("alg")
            .and_then(|a| a.as_str())
            .unwrap_or("(none given)");
        let alg = self.config.algorithms.iter().copied().find(|a| {
            serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(|s| s == name))
                == Some(true)
        });
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
                invalid(
                    format!("unknown algorithm `{s}`"),
                    "use RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA",
                )
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

/// The dev Cell's `.cell/state/auth.json` (as `T`), searched above the program and the
/// working directory.
pub(super) fn find_dev_state<T: serde::de::DeserializeOwned>() -> Result<T, ConfigError> {
    crate::dev_state::find("auth").map_err(|searched| ConfigError::NotConfigured {
        why: format!(
            "CELL_AUTH_ISSUER is not set, and no .cell/state/auth.json was found above {searched}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/rsa-test-private.pem");
    const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/rsa-test-public.pem");
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn claims(patch: serde_json::Value) -> serde_json::Value {
        let mut c = serde_json::json!({
            "sub": "alice", "roles": ["admin"], "iss": "iss", "aud": "app", "exp": now() + 600,
        });
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn rs256() -> Verifier {
        Verifier::with_key(
            VerifierConfig::new("iss", "app", Algorithm::RS256),
            DecodingKey::from_rsa_pem(RSA_PUBLIC).unwrap(),
        )
        .unwrap()
    }

    fn hs256() -> Verifier {
        Verifier::with_secret(VerifierConfig::new("iss", "app", Algorithm::HS256), SECRET).unwrap()
    }

    fn rs_token(c: &serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::RS256),
            c,
            &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        )
        .unwrap()
    }

    fn check(v: &Verifier, token: &str) -> Result<Claims, TokenRejection> {
        v.verify_cached(token)
            .map_err(|e| e.expect("no JWKS involved"))
    }

    #[test]
    fn accepts_a_valid_token_and_reads_its_roles() {
        let c = check(&rs256(), &rs_token(&claims(serde_json::json!({})))).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.roles.as_slice()),
            ("alice", &["admin".to_string()][..])
        );
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims(serde_json::json!({})),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(check(&hs256(), &hs).is_ok());
    }

    #[test]
    fn refuses_expired_immature_and_foreign_tokens() {
        let v = rs256();
        let t = |patch| rs_token(&claims(patch));
        assert_eq!(
            check(&v, &t(serde_json::json!({"exp": now() - 120}))),
            Err(TokenRejection::Expired)
        );
        // Within the leeway, clock skew is tolerated.
        assert!(check(&v, &t(serde_json::json!({"exp": now() - 5}))).is_ok());
        assert_eq!(
            check(&v, &t(serde_json::json!({"nbf": now() + 600}))),
            Err(TokenRejection::NotYetValid)
        );
        assert_eq!(
            check(&v, &t(serde_json::json!({"iss": "other"}))),
            Err(TokenRejection::WrongIssuer)
        );
        assert_eq!(
            check(&v, &t(serde_json::json!({"aud": "other"}))),
            Err(TokenRejection::WrongAudience)
        );
        assert!(check(&v, &t(serde_json::json!({"aud": ["other", "app"]}))).is_ok());
        for claim in ["sub", "exp", "iss", "aud"] {
            let patch = serde_json::json!({ claim: null });
            assert!(
                check(&v, &t(patch)).is_err(),
                "a token without `{claim}` is refused"
            );
        }
        assert!(
            check(&v, &t(serde_json::json!({"roles": "admin"}))).is_err(),
            "a malformed roles claim is refused"
        );
    }

    #[test]
    fn refuses_alg_none_and_algorithms_from_the_token() {
        let v = rs256();
        let valid = rs_token(&claims(serde_json::json!({})));
        let payload = valid.split('.').nth(1).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
        assert_eq!(
            check(&v, &none),
            Err(TokenRejection::Algorithm("none".into()))
        );
        let none_upper = format!("{}.{payload}.", b64(r#"{"alg":"NONE"}"#));
        assert!(matches!(
            check(&v, &none_upper),
            Err(TokenRejection::Algorithm(_))
        ));
        let other = encode(
            &Header::new(Algorithm::RS512),
            &claims(serde_json::json!({})),
            &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        )
        .unwrap();
        assert_eq!(
            check(&v, &other),
            Err(TokenRejection::Algorithm("RS512".into()))
        );
        let sig = valid.rsplit('.').next().unwrap();
        let tampered = format!(
            "{}.{}.{sig}",
            valid.split('.').next().unwrap(),
            b64(r#"{"sub":"mallory","roles":["admin"],"iss":"iss","aud":"app","exp":99999999999}"#)
        );
        assert_eq!(check(&v, &tampered), Err(TokenRejection::BadSignature));
        assert!(matches!(
            check(&v, "not a jwt"),
            Err(TokenRejection::Malformed(_))
        ));
    }

    #[test]
    fn hs_rs_confusion_is_refused() {
        // The attacker signs with HMAC, using the (public) RSA key as the secret.
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims(serde_json::json!({})),
            &EncodingKey::from_secret(RSA_PUBLIC),
        )
        .unwrap();
        assert_eq!(
            check(&rs256(), &forged),
            Err(TokenRejection::Algorithm("HS256".into()))
        );
        // And an RS256 token is refused where HS256 is configured.
        assert_eq!(
            check(&hs256(), &rs_token(&claims(serde_json::json!({})))),
            Err(TokenRejection::Algorithm("RS256".into()))
        );
        // Configurations that would allow confusion do not build.
        let mixed = VerifierConfig {
            algorithms: vec![Algorithm::RS256, Algorithm::HS256],
            ..VerifierConfig::new("iss", "app", Algorithm::RS256)
        };
        assert!(Verifier::with_key(mixed, DecodingKey::from_rsa_pem(RSA_PUBLIC).unwrap()).is_err());
        assert!(
            Verifier::with_secret(VerifierConfig::new("iss", "app", Algorithm::RS256), SECRET)
                .is_err()
        );
        assert!(
            Verifier::with_jwks_url(
                VerifierConfig::new("iss", "app", Algorithm::HS256),
                "http://x"
            )
            .is_err()
        );
        assert!(
            Verifier::with_secret(
                VerifierConfig::new("iss", "app", Algorithm::HS256),
                b"short"
            )
            .is_err()
        );
    }

    #[test]
    fn jwks_keys_are_filtered_fail_closed() {
        let keys: Vec<serde_json::Value> = serde_json::from_value(serde_json::json!([
            {"kty": "oct", "k": "c2VjcmV0", "kid": "secret"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "rs", "alg": "RS256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "good", "use": "sig", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "unknown", "kid": "weird"},
        ]))
        .unwrap();
        let usable = super::super::jwks::usable_keys(&keys, &[Algorithm::ES256]);
        assert_eq!(usable.keys().collect::<Vec<_>>(), ["good"]);
    }
}

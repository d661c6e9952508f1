//! The JWKS cache: fetched on first use, refreshed when a token names an unknown `kid` (at
//! most once per [`MIN_REFRESH`], so unknown keys cannot make us hammer the issuer).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::verify::ConfigError;

pub const MIN_REFRESH: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub enum JwksSource {
    Url(String),
    /// An OIDC issuer: `<issuer>/.well-known/openid-configuration` names `jwks_uri`.
    Discover(String),
}

pub struct CachedKey {
    pub key: DecodingKey,
    /// The JWK's `alg`, when it names one.
    pub algorithm: Option<Algorithm>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<CachedKey>>,
    fetched: Option<Instant>,
}

pub struct JwksCache {
    source: JwksSource,
    client: reqwest::Client,
    cached: RwLock<Cached>,
    refreshing: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(source: JwksSource) -> Result<JwksCache, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::Invalid {
                what: format!("cannot build the HTTP client for the JWKS: {e}"),
                help: "this is a bug or a broken TLS setup".into(),
            })?;
        Ok(JwksCache {
            source,
            client,
            cached: RwLock::new(Cached::default()),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn get(&self, kid: &str) -> Option<Arc<CachedKey>> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .get(kid)
            .cloned()
    }

    /// Fetches the JWKS again unless that happened less than [`MIN_REFRESH`] ago.
    pub async fn refresh(&self, allowed: &[Algorithm]) -> Result<(), String> {
        let _one_at_a_time = self.refreshing.lock().await;
        let recent = self
            .cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .fetched
            .is_some_and(|t| t.elapsed() < MIN_REFRESH);
        if recent {
            return Ok(());
        }
        let result = self.fetch(allowed).await;
        let mut cached = self.cached.write().unwrap_or_else(|p| p.into_inner());
        cached.fetched = Some(Instant::now());
        // A failed fetch keeps the keys we had: they were valid a moment ago.
        cached.keys = result?;
        Ok(())
    }

    async fn fetch(
        &self,
        allowed: &[Algorithm],
    ) -> Result<HashMap<String, Arc<CachedKey>>, String> {
        let url = match &self.source {
            JwksSource::Url(u) => u.clone(),
            JwksSource::Discover(issuer) => {
                let doc = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let v: serde_json::Value = self.get_json(&doc).await?;
                v.get("jwks_uri")
                    .and_then(|u| u.as_str())
                    .ok_or_else(|| format!("{doc} has no jwks_uri"))?
                    .to_string()
            }
        };
        let set: serde_json::Value = self.get_json(&url).await?;
        let keys = set
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| format!("{url} is not a JWKS (no `keys`)"))?;
        Ok(usable_keys(keys, allowed))
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        resp.json().await.map_err(|e| format!("GET {url}: {e}"))
    }
}

/// Signing keys with a `kid`, of a family the configuration allows; never symmetric keys
/// (a JWKS that publishes a secret is refused key by key), never encryption keys.
pub fn usable_keys(
    keys: &[serde_json::Value],
    allowed: &[Algorithm],
) -> HashMap<String, Arc<CachedKey>> {
    let mut out = HashMap::new();
    for raw in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
        ) {
            continue;
        }
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let algorithm = raw
            .get("alg")
            .and_then(|a| a.as_str())
            .and_then(|a| a.parse::<Algorithm>().ok());
        if raw.get("alg").is_some() && !algorithm.is_some_and(|a| allowed.contains(&a)) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.insert(kid, Arc::new(CachedKey { key, algorithm }));
    }
    out
}

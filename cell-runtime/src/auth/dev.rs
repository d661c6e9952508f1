//! Tokens from the dev token service, for tests: `cargo cell test` (or `cargo cell build`)
//! starts the Auth Cell and writes `.cell/state/auth.json`, whose admin secret lets a test
//! mint a token for any subject and roles, signed with the key the verifier trusts.
//!
//! Never in production: there is no dev token service there, so this returns an error.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::verify::find_dev_state;

/// The part of the dev state that reaches the mint endpoint.
#[derive(Deserialize)]
struct MintState {
    url: String,
    admin_secret: String,
}

#[derive(Serialize)]
struct MintRequest<'a> {
    sub: &'a str,
    roles: &'a [&'a str],
}

#[derive(Deserialize)]
struct MintResponse {
    token: String,
}

/// A token for `sub` with `roles`, valid for an hour, from the dev token service (what
/// `cargo cell auth token --sub SUB --role ROLE` prints). Send it as `Authorization: Bearer
/// <token>`.
pub async fn dev_token(sub: &str, roles: &[&str]) -> Result<String, ConfigError> {
    let state: MintState = find_dev_state()?;
    let url = format!("{}/mint", state.url);
    let failed = |why: String| ConfigError::NotConfigured {
        why: format!(
            "the dev token service at {url} did not mint a token ({why}); `cargo cell up auth` starts it"
        ),
    };
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&state.admin_secret)
        .json(&MintRequest { sub, roles })
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}")));
    }
    let body: MintResponse = response.json().await.map_err(|e| failed(e.to_string()))?;
    Ok(body.token)
}

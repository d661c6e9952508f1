//! axum: `AuthContext` is an extractor (verifying `Authorization: Bearer` once per request,
//! kept in the request's extensions), `AuthError` a response.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AuthContext, AuthError, TokenRejection, Verifier};

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    /// Never rejects: a missing or refused token gives a context every guard refuses, with
    /// the reason, so public handlers can take one too.
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ctx) = parts.extensions.get::<AuthContext>() {
            return Ok(ctx.clone());
        }
        let ctx = match parts.headers.get(AUTHORIZATION).map(HeaderValue::to_str) {
            Some(Err(_)) => AuthContext::rejected(TokenRejection::Malformed(
                "the Authorization header is not ASCII".into(),
            )),
            header => match Verifier::global() {
                Ok(v) => v.context(header.and_then(Result::ok)).await,
                Err(e) => {
                    eprintln!("cell-runtime: {e}");
                    AuthContext::rejected(TokenRejection::KeysUnavailable(
                        "the server's Auth configuration is missing or invalid".into(),
                    ))
                }
            },
        };
        parts.extensions.insert(ctx.clone());
        Ok(ctx)
    }
}

impl IntoResponse for AuthError {
    /// `{"error": "<code>", "message": "<text>"}` with 401, 403 or 503, and
    /// `WWW-Authenticate: Bearer ...` for 401 and 403 (RFC 6750 §3).
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let body = axum::Json(serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }));
        let mut response = (status, body).into_response();
        if let Some(value) = self
            .www_authenticate("cell")
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

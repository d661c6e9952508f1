//! axum: `RateLimited` is a response (429 or 503, the headers, and a JSON body).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::RateLimited;

impl IntoResponse for RateLimited {
    /// `{"error": "rate_limited" | "temporarily_unavailable", "message": ...}` with
    /// [`RateLimited::headers`].
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let code = if self.unavailable {
            "temporarily_unavailable"
        } else {
            "rate_limited"
        };
        let body = axum::Json(serde_json::json!({
            "error": code,
            "message": self.to_string(),
            "retry_after": self.retry_after_secs,
        }));
        let mut response = (status, body).into_response();
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

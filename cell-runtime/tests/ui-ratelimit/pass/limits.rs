use std::net::SocketAddr;

use axum::Json;
use axum::extract::ConnectInfo;
use cell_runtime::prelude::*;

#[derive(Debug)]
enum ApiError {
    Auth(AuthError),
    Limited(RateLimited),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl From<RateLimited> for ApiError {
    fn from(e: RateLimited) -> Self {
        ApiError::Limited(e)
    }
}

#[RateLimit::per_user(100)]
#[Auth::protected]
async fn search(ctx: AuthContext) -> Result<String, ApiError> {
    Ok(ctx.subject().unwrap_or_default().to_string())
}

#[RateLimit::per_ip(10, per = "1s", burst = 20, fail = "closed")]
async fn login(ConnectInfo(addr): ConnectInfo<SocketAddr>) -> Result<String, RateLimited> {
    Ok(addr.to_string())
}

struct Upload {
    tenant: u32,
    name: String,
}

#[RateLimit::per_key(5, key = "body.0.tenant", per = "1h")]
async fn upload(Json(body): Json<(Upload,)>) -> Result<String, RateLimited> {
    let _ = body;
    Ok(String::new())
}

#[RateLimit::per_key(5, key = "upload.name")]
#[RateLimit::global(1000, per = "1m")]
async fn upload2(upload: Upload, ctx: &AuthContext) -> Result<u32, ApiError> {
    let _ = ctx;
    Ok(upload.tenant)
}

fn main() {
    let _ = (search, login, upload, upload2);
}

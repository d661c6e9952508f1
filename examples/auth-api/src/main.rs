//! Public, protected and admin routes, guarded by the Auth Cell.
//!
//! `cargo cell build` records the guards, starts the dev token service (the Auth Cell),
//! locks the permissions in `.cell/auth.lock.json` and builds this binary, whose guards are
//! bit tests against the lock's role table. Then:
//!
//! ```sh
//! target/debug/auth-api &                       # prints `listening on 127.0.0.1:PORT`
//! TOKEN=$(cargo cell auth token --role admin --sub alice)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:PORT/admin/stats
//! ```

use axum::routing::get;
use axum::{Json, Router};
use cell_runtime::prelude::*;
use cell_runtime::serde_json::{Value, json};

/// Anyone.
async fn public() -> Json<Value> {
    Json(json!({ "hello": "world" }))
}

/// Any authenticated caller.
#[Auth::protected]
async fn me(ctx: AuthContext) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!({ "sub": ctx.subject(), "roles": ctx.roles() })))
}

/// Admins only.
#[Auth::require(role = "admin")]
async fn admin_stats(ctx: AuthContext) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!({ "users": 42, "asked_by": ctx.subject() })))
}

/// Admins and support staff; the handler passes its context on by reference.
async fn tickets(ctx: AuthContext) -> Result<Json<Value>, AuthError> {
    Ok(Json(json!({ "open": open_tickets(&ctx).await? })))
}

#[Auth::require(any = ["admin", "support"])]
async fn open_tickets(_ctx: &AuthContext) -> Result<u32, AuthError> {
    Ok(3)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Fail at start, not at the first request, when the Auth Cell is not configured.
    Auth::Verifier::from_env()?.install();
    let app = Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/admin/stats", get(admin_stats))
        .route("/tickets", get(tickets));
    let addr = std::env::var("AUTH_API_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

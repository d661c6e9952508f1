//! An HTTP API over four Cells.
//!
//! - `model`: the table (`#[Postgres::table]`), its reads cached in Redis (`#[Redis::cache]`).
//! - `cells`: the Cells the service talks to (`#[service]`), shared by the handlers.
//! - `notes`: what the service does with notes, with spans and metrics (`#[Telemetry::...]`).
//! - `routes`: the axum router; writing routes are guarded (`#[Auth::require]`).
//!
//! `cargo cell build` starts the Cells, creates the table and writes `.cell/*.lock.json`
//! (commit them). `cargo cell run` serves on 127.0.0.1:3000 (`BIND` to change it) and
//! `/metrics` on CELL_METRICS_ADDR; `cargo cell run -- health` checks the Cells and exits;
//! `cargo cell test` tests the routes.

mod cells;
mod model;
mod notes;
mod routes;

use cell_runtime::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = cells::AppState::connect().await?;
    // Fail at start, not at the first request, when the Auth Cell is not configured.
    Auth::Verifier::from_env()?.install();
    if std::env::args().nth(1).as_deref() == Some("health") {
        println!("{}", routes::health_report(&state).await?);
        return Ok(());
    }
    let metrics = cell_runtime::telemetry::serve_metrics_from_env()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{} (metrics on http://{metrics}/metrics)", listener.local_addr()?);
    axum::serve(listener, routes::router(state)).await?;
    Ok(())
}

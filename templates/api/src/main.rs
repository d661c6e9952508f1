//! An HTTP API over the Postgres Cell.
//!
//! - `model`: the tables (`#[Postgres::table]`).
//! - `cells`: the Cells the service talks to (`#[service]`). Other Cells (a cache, auth,
//!   telemetry) are added there as fields, and reach the handlers through `AppState`.
//! - `routes`: the axum router and its handlers.
//!
//! `cargo cell build` starts the Cell, creates the tables and writes `.cell/postgres.lock.json`
//! (commit it). `cargo cell run` serves on 127.0.0.1:3000 (`BIND` to change it);
//! `cargo cell run -- health` checks the Cells and exits; `cargo cell test` tests the routes.

mod cells;
mod model;
mod routes;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = cells::AppState::connect().await?;
    if std::env::args().nth(1).as_deref() == Some("health") {
        println!("{}", routes::health_report(&state).await?);
        return Ok(());
    }
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, routes::router(state)).await?;
    Ok(())
}

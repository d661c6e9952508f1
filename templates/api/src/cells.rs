//! The Cells the service talks to, and the state every handler gets.
//!
//! Postgres is a connection here; the other Cells need no field: the Redis cache is reached
//! by the table's generated finders, tokens are checked by the `AuthContext` extractor, and
//! metrics go to the process's recorder.

use std::sync::Arc;

use cell_runtime::prelude::*;

/// `Cells::connect()` fills the fields from the environment `cargo cell run` and
/// `cargo cell test` set (or `.cell/state/` after `cargo cell build`).
#[service]
pub struct Cells {
    pub db: PostgresConnection,
}

/// Shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub cells: Arc<Cells>,
}

impl AppState {
    pub async fn connect() -> Result<AppState, Error> {
        Ok(AppState { cells: Arc::new(Cells::connect().await?) })
    }
}

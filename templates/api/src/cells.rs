//! The Cells the service talks to, and the state every handler gets.

use std::sync::Arc;

use cell_runtime::prelude::*;

/// One field per Cell: `Cells::connect()` fills them from the environment `cargo cell run`
/// and `cargo cell test` set (or `.cell/state/` after `cargo cell build`). A cache, auth or
/// telemetry Cell becomes one more field here.
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

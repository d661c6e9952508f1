//! The dev Cells' state, which `cargo cell build` and `cargo cell up` write to
//! `.cell/state/<cell>.json` (endpoints, passwords): found from the program's location or
//! the working directory, so a binary under `target/` and a test run from the workspace both
//! find the workspace's Cells without any configuration.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The state of `cell` in the nearest `.cell/state/<cell>.json` above the executable, else
/// above the working directory. `Err` names the folders searched, for the message.
pub(crate) fn find<T: DeserializeOwned>(cell: &str) -> Result<T, String> {
    let file = format!("{cell}.json");
    let mut searched = Vec::new();
    let starts = [std::env::current_exe().ok(), std::env::current_dir().ok()];
    for start in starts.iter().flatten() {
        for dir in start.ancestors() {
            if let Some(state) = read(&dir.join(".cell").join("state").join(&file)) {
                return Ok(state);
            }
        }
        searched.push(start.display().to_string());
    }
    Err(searched.join(" or "))
}

/// The `url` of `cell`'s state (the Postgres and Redis Cells keep their endpoint there).
pub(crate) fn find_url(cell: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Url {
        url: String,
    }
    find::<Url>(cell).map(|s| s.url)
}

/// The URL a program connects to `cell` with: the state's `app_url` (the Postgres Cell's
/// application login role, which holds only what the code needs), else its `url` (a state
/// written before the application role existed; the next `cargo cell up` or `build` adds it).
pub(crate) fn find_app_url(cell: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Urls {
        url: String,
        #[serde(default)]
        app_url: Option<String>,
    }
    find::<Urls>(cell).map(|s| s.app_url.unwrap_or(s.url))
}

fn read<T: DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

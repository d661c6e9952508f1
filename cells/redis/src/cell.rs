//! The Redis Cell's container, described as data: image, command, port, data directory.
//! The official `redis` image and the locally built `cargo-cell/redis:7` both take
//! `redis-server` options as their command (`IMAGE --requirepass x`).

use std::collections::BTreeMap;

/// The image used unless `[workspace.metadata.cell.redis] image` or `CELL_REDIS_IMAGE` says
/// otherwise.
pub const DEFAULT_IMAGE: &str = "redis:7";
/// Overrides the image (for example a locally built one where nothing can be pulled).
pub const IMAGE_ENV: &str = "CELL_REDIS_IMAGE";
/// The runtime's endpoint override, as `redis://:password@host:port/`.
pub const URL_ENV: &str = "CELL_REDIS_URL";
pub const CONTAINER_PORT: u16 = 6379;
pub const DATA_PATH: &str = "/data";

/// The settings applied with `CONFIG SET` at apply time unless the workspace sets them in
/// `[workspace.metadata.cell.redis]`: a cache evicts the least recently used keys when full.
pub fn default_settings() -> BTreeMap<String, String> {
    BTreeMap::from([("maxmemory-policy".to_string(), "allkeys-lru".to_string())])
}

/// The settings cargo-cell manages (and the lock records). Others are left alone.
pub const MANAGED_SETTINGS: &[&str] = &["maxmemory-policy", "maxmemory"];

/// The command: `redis-server` options (the image's entrypoint adds `redis-server`).
pub fn container_cmd(password: &str) -> Vec<String> {
    [
        "--requirepass",
        password,
        "--dir",
        DATA_PATH,
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The URL a client on this machine uses.
pub fn url(password: &str, port: u16) -> String {
    format!("redis://:{password}@127.0.0.1:{port}/")
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    cell_postgres::cell::redact(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_redaction() {
        let u = url("s3cret", 6390);
        assert_eq!(u, "redis://:s3cret@127.0.0.1:6390/");
        assert_eq!(redact(&u), "redis://:***@127.0.0.1:6390/");
    }

    #[test]
    fn command_sets_the_password_and_data_dir() {
        let cmd = container_cmd("pw");
        assert_eq!(&cmd[..2], ["--requirepass", "pw"]);
        assert!(cmd.windows(2).any(|w| w == ["--dir", "/data"]));
    }
}

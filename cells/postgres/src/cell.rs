//! The Postgres Cell's container, described as data: image, environment contract, port,
//! data directory. Any image that honours the official `postgres` image's contract works.

/// The image used unless `[workspace.metadata.cell.postgres] image` or `CELL_POSTGRES_IMAGE`
/// says otherwise.
pub const DEFAULT_IMAGE: &str = "postgres:17";
/// Overrides the image (for example a locally built one where nothing can be pulled).
pub const IMAGE_ENV: &str = "CELL_POSTGRES_IMAGE";
pub const CONTAINER_PORT: u16 = 5432;
pub const DATA_PATH: &str = "/var/lib/postgresql/data";
pub const USER: &str = "cell";
pub const DATABASE: &str = "cell";

/// The environment the official image reads on first start.
pub fn container_env(password: &str) -> Vec<(String, String)> {
    vec![
        ("POSTGRES_USER".into(), USER.into()),
        ("POSTGRES_PASSWORD".into(), password.into()),
        ("POSTGRES_DB".into(), DATABASE.into()),
    ]
}

/// The URL a client on this machine uses.
pub fn url(user: &str, password: &str, port: u16, database: &str) -> String {
    format!("postgres://{user}:{password}@127.0.0.1:{port}/{database}")
}

/// The URL without its password, for messages: `postgres://cell:***@127.0.0.1:5432/cell`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://cell:s3cret@127.0.0.1:5432/app"),
            "postgres://cell:***@127.0.0.1:5432/app"
        );
        assert_eq!(
            redact("postgres://127.0.0.1/app"),
            "postgres://127.0.0.1/app"
        );
    }
}

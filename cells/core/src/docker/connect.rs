//! Connecting to the engine: where its address comes from ([`Host`]), the version
//! negotiation and ping within [`CONNECT_TIMEOUT`], and what a failure means for the user.

use std::fmt;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;

use super::TEST_LABEL_ENV;
use super::engine::Engine;
use super::error::DockerError;

/// How long [`Engine::connect`] may take in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(unix)]
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
#[cfg(windows)]
const DEFAULT_HOST: &str = "npipe:////./pipe/docker_engine";

/// The engine address, and where it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `unix:///var/run/docker.sock`, `tcp://...`.
    pub url: String,
    /// Where `url` came from.
    pub origin: HostOrigin,
}

/// Where [`Host::url`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOrigin {
    /// The platform's default socket.
    Default,
    /// The `DOCKER_HOST` environment variable.
    DockerHostEnv,
    /// Given to [`Engine::connect_to`].
    Explicit,
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            HostOrigin::Default => {
                write!(f, "{} (the default socket; DOCKER_HOST is unset)", self.url)
            }
            HostOrigin::DockerHostEnv => write!(f, "{} (from DOCKER_HOST)", self.url),
            HostOrigin::Explicit => f.write_str(&self.url),
        }
    }
}

impl Engine {
    /// Connect to the engine named by `DOCKER_HOST` (or the default socket),
    /// negotiate the API version and ping it, all within
    /// [`CONNECT_TIMEOUT`]. Adds the label from `CELL_TEST_LABEL` when set.
    pub async fn connect() -> Result<Engine, DockerError> {
        let host = match std::env::var("DOCKER_HOST") {
            Ok(url) if !url.is_empty() => Host {
                url,
                origin: HostOrigin::DockerHostEnv,
            },
            _ => Host {
                url: DEFAULT_HOST.to_owned(),
                origin: HostOrigin::Default,
            },
        };
        let engine = Engine::connect_host(host).await?;
        match std::env::var(TEST_LABEL_ENV) {
            Ok(value) if !value.is_empty() => {
                let (key, val) =
                    parse_label(&value).ok_or_else(|| DockerError::InvalidTestLabel {
                        value: value.clone(),
                    })?;
                Ok(engine.with_extra_label(key, val))
            }
            _ => Ok(engine),
        }
    }

    /// Connect to `host` (`unix://...`, `tcp://...`), or to the default socket
    /// when `None`. Reads no environment variable.
    pub async fn connect_to(host: Option<&str>) -> Result<Engine, DockerError> {
        Engine::connect_host(match host {
            Some(url) => Host {
                url: url.to_owned(),
                origin: HostOrigin::Explicit,
            },
            None => Host {
                url: DEFAULT_HOST.to_owned(),
                origin: HostOrigin::Default,
            },
        })
        .await
    }

    async fn connect_host(host: Host) -> Result<Engine, DockerError> {
        let attempt = async {
            let docker = Docker::connect_with_host(&host.url)
                .map_err(|source| classify_connect_error(&host, source))?;
            let docker = docker
                .negotiate_version()
                .await
                .map_err(|source| classify_connect_error(&host, source))?;
            docker
                .ping()
                .await
                .map_err(|source| classify_connect_error(&host, source))?;
            Ok(docker)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(docker)) => Ok(Engine {
                docker,
                host,
                extra_label: None,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DockerError::Timeout {
                host,
                operation: "connect",
                seconds: CONNECT_TIMEOUT.as_secs(),
            }),
        }
    }
}

/// What a connection failure means for the user.
pub(super) fn classify_connect_error(host: &Host, source: BollardError) -> DockerError {
    match &source {
        BollardError::UnsupportedURISchemeError { .. } => DockerError::InvalidHost {
            host: host.clone(),
            source: Box::new(source),
        },
        BollardError::RequestTimeoutError => DockerError::Timeout {
            host: host.clone(),
            operation: "connect",
            seconds: CONNECT_TIMEOUT.as_secs(),
        },
        _ if io_error_kind(&source) == Some(std::io::ErrorKind::PermissionDenied) => {
            DockerError::PermissionDenied {
                socket: host
                    .url
                    .strip_prefix("unix://")
                    .unwrap_or(&host.url)
                    .to_owned(),
                source: Box::new(source),
            }
        }
        _ => DockerError::Unreachable {
            host: host.clone(),
            source: Box::new(source),
        },
    }
}

/// The kind of the first I/O error in `err`'s chain of sources.
pub(super) fn io_error_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

pub(super) fn parse_label(value: &str) -> Option<(&str, &str)> {
    let (k, v) = value.split_once('=')?;
    (!k.trim().is_empty()).then_some((k.trim(), v))
}

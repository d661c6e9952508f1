//! TLS for connections to a Postgres server reached by URL: `cargo cell apply --env prod`, and
//! the runtime in deployment. The dev Cells listen on 127.0.0.1 without TLS and need none.
//!
//! The URL's `sslmode` decides as in tokio-postgres: `disable` never encrypts, `prefer` (the
//! default) encrypts when the server offers it, `require` refuses a server that does not.
//! Whenever the connection is encrypted the server's certificate is verified (unlike libpq's
//! `prefer`/`require`, which accept any certificate): against Mozilla's roots, compiled in,
//! and the CA certificates of the file `PGSSLROOTCERT` names (libpq's variable), for a
//! private CA such as a cloud provider's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
pub use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's variable for the file of trusted CA certificates (PEM).
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read the CA certificates in {path} (named by {ROOT_CERT_ENV})")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} (named by {ROOT_CERT_ENV}) holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} (named by {ROOT_CERT_ENV}) holds a certificate that cannot be used")]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The connector for URLs given by the user, with the roots `PGSSLROOTCERT` adds.
pub fn connector() -> Result<MakeRustlsConnect, TlsConfigError> {
    let extra = std::env::var_os(ROOT_CERT_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    connector_with(extra.as_deref())
}

/// The connector trusting Mozilla's roots and the PEM certificates in `extra_roots`.
pub fn connector_with(extra_roots: Option<&Path>) -> Result<MakeRustlsConnect, TlsConfigError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_roots {
        for cert in read_pem_certificates(path)? {
            roots.add(cert).map_err(|source| TlsConfigError::Invalid {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
        }
    }
    // ring, not the default aws-lc-rs: no cmake or assembler needed to build the runtime.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsConfigError::Invalid {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Whether `error` (or a cause of it) is the server's certificate failing verification: an
/// unknown CA, another host name, expired. The fix is the trust, not the network.
pub fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    certificate_error(error).is_some()
}

/// The verification failure inside `error`, as rustls reports it (`invalid peer certificate:
/// UnknownIssuer`), if that is what `error` is.
pub fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        // io::Error's `source()` skips the error it wraps: look inside it too.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        for candidate in [
            Some(e),
            inner.map(|i| i as &(dyn std::error::Error + 'static)),
        ] {
            if let Some(found @ rustls::Error::InvalidCertificate(_)) =
                candidate.and_then(|c| c.downcast_ref::<rustls::Error>())
            {
                return Some(found);
            }
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_extra_roots_it_trusts_the_compiled_in_ones() {
        connector_with(None).unwrap();
    }

    #[test]
    fn a_missing_or_empty_root_file_is_an_error_naming_the_variable() {
        let Err(missing) = connector_with(Some(Path::new("/nonexistent/ca.pem"))) else {
            panic!("a missing file must be an error");
        };
        assert!(matches!(missing, TlsConfigError::Read { .. }));
        assert!(missing.to_string().contains(ROOT_CERT_ENV), "{missing}");

        let dir = std::env::temp_dir().join(format!("cell-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let Err(e) = connector_with(Some(&empty)) else {
            panic!("a file without certificates must be an error");
        };
        assert!(matches!(e, TlsConfigError::NoCertificate { .. }), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn finds_a_certificate_error_inside_an_io_error() {
        let rustls_error =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_error);
        assert!(is_certificate_error(&io));
        assert_eq!(
            certificate_error(&io).unwrap().to_string(),
            "invalid peer certificate: UnknownIssuer"
        );
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!is_certificate_error(&other));
    }
}

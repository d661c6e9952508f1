//! The Kv Cell's errors: what happened, why, what to do. cargo-cell sees them as
//! [`CellError`]s and renders their code, help and causes.

use std::path::PathBuf;

use cell_core::CellError;
use cell_core::lockfile::LockError;
use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum KvError {
    /// One key declared twice with different values.
    #[error("the key `{key}` is declared twice, as {first:?} and as {second:?} (in {origin})")]
    #[diagnostic(
        code(cell::kv::conflict),
        help("each key has one value: keep one `#[Kv::entry(key = \"{key}\", ...)]`")
    )]
    Conflict {
        key: String,
        first: String,
        second: String,
        origin: String,
    },

    /// `.cell/kv.lock.json` cannot be used (a lock of a newer format included).
    #[error("cannot use the Kv lock {path}")]
    #[diagnostic(
        code(cell::kv::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: LockError,
    },

    /// A command to the running Cell failed (`what`: `connecting`, `SET greeting`).
    #[cfg(feature = "live")]
    #[error("cannot talk to the Kv Cell: {what}")]
    #[diagnostic(
        code(cell::kv),
        help("check it runs with `cargo cell status`; `cargo cell up` starts it again")
    )]
    Server {
        what: String,
        #[source]
        source: redis::RedisError,
    },
}

impl From<KvError> for CellError {
    fn from(e: KvError) -> Self {
        CellError::new(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_code_and_help_through_cell_error() {
        let e = CellError::from(KvError::Conflict {
            key: "greeting".into(),
            first: "hello".into(),
            second: "hi".into(),
            origin: "kv-app".into(),
        });
        assert_eq!(
            e.to_string(),
            "the key `greeting` is declared twice, as \"hello\" and as \"hi\" (in kv-app)"
        );
        assert_eq!(e.code().unwrap().to_string(), "cell::kv::conflict");
        assert!(e.help().unwrap().to_string().contains("keep one"));
        assert!(e.downcast_ref::<KvError>().is_some());

        let e = CellError::from(KvError::Lock {
            path: ".cell/kv.lock.json".into(),
            source: LockError::TooNew {
                path: ".cell/kv.lock.json".into(),
                found: 9,
                supported: 1,
            },
        });
        assert_eq!(e.code().unwrap().to_string(), "cell::kv::lock");
        assert!(std::error::Error::source(&e).is_some());
    }
}

//! The Redis Cell's errors, with the codes and help texts cargo-cell has always shown for
//! them. cargo-cell sees them as [`CellError`]s.

use std::path::PathBuf;

use cell_core::CellError;
use miette::Diagnostic;

use crate::lock::LockError;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum RedisCellError {
    /// A command to the running Cell failed (`what`: `connecting`, `CONFIG SET ...`).
    #[cfg(feature = "live")]
    #[error("cannot talk to the Redis Cell: {what}")]
    #[diagnostic(
        code(cell::redis),
        help("check it runs with `cargo cell status`; `cargo cell up` starts it again")
    )]
    Redis {
        what: String,
        #[source]
        source: redis::RedisError,
    },

    /// `.cell/redis.lock.json` cannot be read (a lock of a newer format included).
    #[error("cannot use the Redis lock {path}")]
    #[diagnostic(
        code(cell::redis::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: LockError,
    },
}

impl From<RedisCellError> for CellError {
    fn from(e: RedisCellError) -> Self {
        CellError::new(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_lock_keeps_its_code_and_help() {
        let e = CellError::from(RedisCellError::Lock {
            path: ".cell/redis.lock.json".into(),
            source: LockError::TooNew {
                path: ".cell/redis.lock.json".into(),
                found: 9,
                supported: 1,
            },
        });
        assert_eq!(
            e.to_string(),
            "cannot use the Redis lock .cell/redis.lock.json"
        );
        assert_eq!(e.code().unwrap().to_string(), "cell::redis::lock");
        assert_eq!(
            e.help().unwrap().to_string(),
            "regenerate it with `cargo cell build`, or restore it from version control"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert!(e.downcast_ref::<RedisCellError>().is_some());
    }

    #[cfg(feature = "live")]
    #[test]
    fn a_failed_command_says_how_to_check_the_cell() {
        let source = redis::RedisError::from((redis::ErrorKind::IoError, "refused"));
        let e = CellError::from(RedisCellError::Redis {
            what: "connecting".into(),
            source,
        });
        assert_eq!(e.to_string(), "cannot talk to the Redis Cell: connecting");
        assert_eq!(e.code().unwrap().to_string(), "cell::redis");
        assert_eq!(
            e.help().unwrap().to_string(),
            "check it runs with `cargo cell status`; `cargo cell up` starts it again"
        );
    }
}

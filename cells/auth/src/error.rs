//! The Auth Cell's errors: what went wrong, why, and what to do. cargo-cell sees them as a
//! [`CellError`], with these codes and help texts.
//!
//! A token service that does not become ready is the core's one readiness error
//! (`cell_core::live::ReadyError`), not one of these.

use std::path::PathBuf;

use cell_core::CellError;
use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum AuthCellError {
    #[error("`{path}` is guarded twice, differently: {first} and {second}")]
    #[diagnostic(
        code(cell::auth::conflict),
        help(
            "the lock keys guards by crate, module (from the file) and function name: rename one of the functions, or move it to another module file"
        )
    )]
    ConflictingGuards {
        path: String,
        first: String,
        second: String,
    },

    #[error("{0}")]
    #[diagnostic(
        code(cell::auth::roles),
        help("a role set is a 64-bit mask: use fewer distinct roles")
    )]
    TooManyRoles(#[from] crate::lock::TooManyRoles),

    #[error(transparent)]
    #[diagnostic(
        code(cell::auth::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock(#[from] crate::lock::LockError),

    #[error("cannot build the token service image {image} from {base}: {why}")]
    #[diagnostic(
        code(cell::auth::image),
        help(
            "the base image must exist locally or be pullable: `docker pull {base}`, or name another Debian-based image with CELL_AUTH_BASE_IMAGE or `[workspace.metadata.cell.auth] base_image`"
        )
    )]
    Image {
        image: String,
        base: String,
        why: String,
    },

    #[error("no dev token service for this workspace: {why}")]
    #[diagnostic(
        code(cell::auth::state),
        help(
            "run `cargo cell build` first: it starts the Auth Cell when the code has #[Auth::...] guards"
        )
    )]
    NoState { why: String },

    #[error("the token service refused to mint: {why}")]
    #[diagnostic(
        code(cell::auth::mint),
        help(
            "check it runs with `cargo cell status`; `cargo cell build` restarts it and rewrites .cell/state/auth.json"
        )
    )]
    Mint { why: String },

    #[error("cannot write {path}")]
    #[diagnostic(code(cell::io))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the token service failed: {0}")]
    #[diagnostic(code(cell::auth::serve))]
    Serve(String),
}

impl From<AuthCellError> for CellError {
    fn from(e: AuthCellError) -> Self {
        CellError::new(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_help_reach_cargo_cell_through_the_box() {
        let e: CellError = AuthCellError::NoState {
            why: "cannot read x".into(),
        }
        .into();
        assert_eq!(
            e.to_string(),
            "no dev token service for this workspace: cannot read x"
        );
        assert_eq!(e.code().unwrap().to_string(), "cell::auth::state");
        assert!(
            e.help()
                .unwrap()
                .to_string()
                .starts_with("run `cargo cell build` first")
        );
        assert!(e.downcast_ref::<AuthCellError>().is_some());
    }
}

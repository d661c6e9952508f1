//! The Auth Cell's runtime.
//!
//! A request's token is verified once, by [`Verifier`], into an [`AuthContext`] that holds
//! the caller's roles as a bitset; `#[Auth::require(...)]` then costs a bit test. In axum,
//! `AuthContext` is an extractor (feature `axum`) and [`AuthError`] answers 401/403 with a
//! JSON body and `WWW-Authenticate`.
//!
//! Configuration, in this order: [`Verifier::install`]; the variables `CELL_AUTH_ISSUER`
//! (an OIDC issuer; its JWKS URL is discovered unless `CELL_AUTH_JWKS_URL` is set),
//! `CELL_AUTH_AUDIENCE` and `CELL_AUTH_ALGORITHMS` (default `RS256`); else the dev Cell's
//! `.cell/state/auth.json` that `cargo cell build` wrote.

mod context;
mod dev;
mod error;
mod jwks;
mod table;
mod verify;

#[cfg(feature = "axum")]
mod axum;

pub use context::AuthContext;
pub use dev::dev_token;
pub use error::{AuthError, TokenRejection};
pub use verify::{Claims, ConfigError, Verifier, VerifierConfig};

/// Used by the guards `#[Auth::require]` and `#[Auth::protected]` expand to.
#[doc(hidden)]
pub mod __private {
    pub use super::table::RoleBit;
    pub use inventory;

    use super::{AuthContext, AuthError};

    /// With a lock: the caller holds one of the mask's roles.
    #[inline(always)]
    pub fn require_mask(ctx: &AuthContext, mask: u64) -> Result<(), AuthError> {
        if ctx.bits() & mask != 0 {
            Ok(())
        } else {
            Err(ctx.denial())
        }
    }

    /// Without a lock: the caller holds one of the roles, by name.
    #[inline]
    pub fn require_any_name(ctx: &AuthContext, roles: &[&str]) -> Result<(), AuthError> {
        if ctx.is_authenticated() && roles.iter().any(|r| ctx.has_role(r)) {
            Ok(())
        } else {
            Err(ctx.denial())
        }
    }

    #[inline(always)]
    pub fn require_authenticated(ctx: &AuthContext) -> Result<(), AuthError> {
        if ctx.is_authenticated() {
            Ok(())
        } else {
            Err(ctx.denial())
        }
    }

    /// What a guarded function returns when the guard refuses.
    #[diagnostic::on_unimplemented(
        message = "a guarded function must be able to return an `AuthError`, and `{Self}` cannot carry one",
        label = "the guard returns `Err(AuthError::...)` through this type",
        note = "return `Result<T, E>` where `E: From<AuthError>`, for example `Result<Json<T>, AuthError>` in an axum handler"
    )]
    pub trait GuardReturn {
        fn deny(error: AuthError) -> Self;
    }

    impl<T, E: From<AuthError>> GuardReturn for Result<T, E> {
        #[inline]
        fn deny(error: AuthError) -> Self {
            Err(E::from(error))
        }
    }

    #[inline]
    pub fn deny<R: GuardReturn>(error: AuthError) -> R {
        R::deny(error)
    }
}

use std::sync::Arc;

use super::error::{AuthError, TokenRejection};
use super::verify::Claims;

/// Who is calling: built once per request from a verified token (or the lack of one), then
/// checked by every guard with a bit test.
#[derive(Debug, Clone, Default)]
pub struct AuthContext {
    claims: Option<Arc<Claims>>,
    bits: u64,
    /// Why the presented token was refused, if one was presented and refused.
    rejection: Option<TokenRejection>,
}

impl AuthContext {
    /// No token was presented.
    pub fn anonymous() -> AuthContext {
        AuthContext::default()
    }

    /// A token was presented and refused: every guard answers 401 with the reason.
    pub fn rejected(reason: TokenRejection) -> AuthContext {
        AuthContext {
            rejection: Some(reason),
            ..AuthContext::default()
        }
    }

    /// A verified token's claims (see [`super::Verifier::verify`]).
    pub fn from_claims(claims: Claims) -> AuthContext {
        let bits = super::table::bits(claims.roles.iter().map(String::as_str));
        AuthContext {
            claims: Some(Arc::new(claims)),
            bits,
            rejection: None,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        self.claims.is_some()
    }

    /// The token's `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.claims.as_deref().map(|c| c.sub.as_str())
    }

    pub fn roles(&self) -> &[String] {
        self.claims
            .as_deref()
            .map(|c| c.roles.as_slice())
            .unwrap_or(&[])
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles().iter().any(|r| r == role)
    }

    pub fn claims(&self) -> Option<&Claims> {
        self.claims.as_deref()
    }

    pub fn rejection(&self) -> Option<&TokenRejection> {
        self.rejection.as_ref()
    }

    /// The roles as bits of this binary's role table (see `cell_auth::roles`).
    #[inline(always)]
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// The error a guard returns when it refuses this caller.
    #[cold]
    pub fn denial(&self) -> AuthError {
        match (&self.claims, &self.rejection) {
            (Some(_), _) => AuthError::Forbidden,
            (None, Some(r)) => AuthError::InvalidToken(r.clone()),
            (None, None) => AuthError::Unauthenticated,
        }
    }
}

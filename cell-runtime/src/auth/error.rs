use std::fmt;

/// Why a guard refused. `Unauthenticated` and `InvalidToken` are 401, `Forbidden` 403,
/// `Unavailable` 503 (the keys could not be fetched: nothing is admitted meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("authentication required: send `Authorization: Bearer <token>`")]
    Unauthenticated,
    #[error("the bearer token was refused: {0}")]
    InvalidToken(TokenRejection),
    #[error("the caller does not hold a role this operation requires")]
    Forbidden,
    #[error("tokens cannot be verified right now: {0}")]
    Unavailable(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::InvalidToken(TokenRejection::KeysUnavailable(_))
            | AuthError::Unavailable(_) => 503,
            AuthError::Unauthenticated | AuthError::InvalidToken(_) => 401,
            AuthError::Forbidden => 403,
        }
    }

    /// The short code of the JSON body (`error`), as RFC 6750 names them where it does.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated => "unauthenticated",
            AuthError::InvalidToken(TokenRejection::KeysUnavailable(_)) => {
                "temporarily_unavailable"
            }
            AuthError::InvalidToken(TokenRejection::Malformed(_)) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::Forbidden => "insufficient_scope",
            AuthError::Unavailable(_) => "temporarily_unavailable",
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3): none for 503; no error code when the
    /// request carried no credentials.
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        let quoted = |s: &str| s.replace(['"', '\\'], "'");
        match self {
            AuthError::Unauthenticated => Some(format!("Bearer realm=\"{}\"", quoted(realm))),
            AuthError::InvalidToken(TokenRejection::KeysUnavailable(_))
            | AuthError::Unavailable(_) => None,
            AuthError::InvalidToken(r) => Some(format!(
                "Bearer realm=\"{}\", error=\"{}\", error_description=\"{}\"",
                quoted(realm),
                self.code(),
                quoted(&r.to_string())
            )),
            AuthError::Forbidden => Some(format!(
                "Bearer realm=\"{}\", error=\"insufficient_scope\"",
                quoted(realm)
            )),
        }
    }
}

/// Why a presented token was refused. Every doubt is a rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not `Bearer <JWT>`, or not a JWT.
    Malformed(String),
    /// The header names an algorithm the configuration does not allow (`none` included).
    Algorithm(String),
    /// No `kid`, or no key of that id (after refreshing the JWKS).
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    MissingClaim(String),
    /// The JWKS could not be fetched.
    KeysUnavailable(String),
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRejection::Malformed(why) => write!(f, "malformed token ({why})"),
            TokenRejection::Algorithm(alg) => write!(f, "algorithm {alg} is not accepted"),
            TokenRejection::UnknownKey => f.write_str("the token's key is unknown"),
            TokenRejection::BadSignature => f.write_str("invalid signature"),
            TokenRejection::Expired => f.write_str("the token has expired"),
            TokenRejection::NotYetValid => f.write_str("the token is not valid yet"),
            TokenRejection::WrongIssuer => f.write_str("the token is from another issuer"),
            TokenRejection::WrongAudience => f.write_str("the token is for another audience"),
            TokenRejection::MissingClaim(c) => write!(f, "the token has no `{c}` claim"),
            TokenRejection::KeysUnavailable(why) => {
                write!(f, "the signing keys are unavailable ({why})")
            }
        }
    }
}

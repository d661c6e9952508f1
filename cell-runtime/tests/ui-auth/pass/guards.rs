use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use cell_runtime::auth::{Claims, TokenRejection};
use cell_runtime::prelude::*;

#[Auth::require(role = "admin")]
async fn admin_only(ctx: AuthContext) -> Result<&'static str, AuthError> {
    Ok(if ctx.subject() == Some("alice") { "alice" } else { "someone" })
}

#[Auth::require(any = ["admin", "support"])]
async fn staff(_ctx: &AuthContext) -> Result<u32, AuthError> {
    Ok(3)
}

#[Auth::protected]
async fn anyone_signed_in(_: AuthContext) -> Result<(), AuthError> {
    Ok(())
}

#[derive(Debug, PartialEq)]
enum ApiError {
    Auth(AuthError),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

struct Service;

impl Service {
    #[Auth::require(role = "admin")]
    async fn delete(&self, id: u32, ctx: &mut AuthContext) -> Result<u32, ApiError> {
        let _ = ctx;
        Ok(id)
    }
}

fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the guarded functions do not wait"),
    }
}

fn caller(roles: &[&str]) -> AuthContext {
    AuthContext::from_claims(Claims {
        sub: "alice".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        iss: "iss".into(),
        aud: "app".into(),
        exp: 0,
        nbf: None,
        iat: None,
        extra: Default::default(),
    })
}

fn main() {
    let nobody = AuthContext::anonymous();
    assert_eq!(run(admin_only(nobody.clone())), Err(AuthError::Unauthenticated));
    assert_eq!(run(anyone_signed_in(nobody.clone())), Err(AuthError::Unauthenticated));
    let refused = AuthContext::rejected(TokenRejection::Expired);
    assert_eq!(
        run(staff(&refused)),
        Err(AuthError::InvalidToken(TokenRejection::Expired))
    );

    let support = caller(&["support"]);
    assert_eq!(run(admin_only(support.clone())), Err(AuthError::Forbidden));
    assert_eq!(run(staff(&support)), Ok(3));
    assert_eq!(run(anyone_signed_in(support.clone())), Ok(()));
    let mut s = support.clone();
    assert_eq!(
        run(Service.delete(7, &mut s)),
        Err(ApiError::Auth(AuthError::Forbidden))
    );

    let mut admin = caller(&["admin"]);
    assert_eq!(run(admin_only(admin.clone())), Ok("alice"));
    assert_eq!(run(staff(&admin)), Ok(3));
    assert_eq!(run(Service.delete(7, &mut admin)), Ok(7));
}

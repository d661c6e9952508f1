use cell_runtime::prelude::*;

#[Security::pii(fields = ["email"])]
#[derive(Debug)]
struct User {
    id: i64,
    email: String,
}

#[Telemetry::span(fields = [user])]
async fn sign_up(user: &User) -> Result<(), Error> {
    let _ = user;
    Ok(())
}

fn main() {}

use cell_runtime::prelude::*;

#[Security::pii(fields = ["email"])]
#[derive(Debug, Clone, serde::Serialize)]
struct User {
    id: i64,
    tier: String,
    email: String,
}

// A field that is not personal, passed on its own, may be a span field and a label.
#[Telemetry::span(fields = [tier, id])]
#[Telemetry::metrics(counter = "signups_total", labels = [tier])]
async fn sign_up(user: &User, tier: String, id: i64) -> Result<(), Error> {
    let _ = (user, tier, id);
    Ok(())
}

// Personal data in an audit is fine as a keyed hash.
#[Audit::log(event = "user_created", sensitive_fields = ["user"], retention = "7y")]
async fn create(user: User) -> Result<(), Error> {
    let _ = user;
    Ok(())
}

// Generic arguments cannot be checked at compile time: they are recorded as written.
#[Telemetry::span(fields = [value])]
async fn generic<T: std::fmt::Debug>(value: T) -> Result<(), Error> {
    let _ = value;
    Ok(())
}

fn main() {
    let _ = (sign_up, create, generic::<u8>);
}

use cell_runtime::prelude::*;

#[Security::pii(fields = ["email"])]
#[derive(Debug, serde::Serialize)]
struct User {
    id: i64,
    email: String,
}

#[Audit::log(event = "user_created", retention = "7y")]
async fn create(id: i64, user: User) -> Result<(), Error> {
    let _ = (id, user);
    Ok(())
}

fn main() {}

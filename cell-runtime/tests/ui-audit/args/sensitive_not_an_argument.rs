use cell_runtime::prelude::*;

#[Audit::log(event = "user_deleted", sensitive_fields = ["emial"], retention = "7y")]
async fn delete_user(id: i64, email: String) -> Result<(), Error> {
    let _ = (id, email);
    Ok(())
}

fn main() {}

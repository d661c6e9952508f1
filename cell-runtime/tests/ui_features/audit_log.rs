use cell_runtime::prelude::*;

#[Audit::log(event = "user_deleted", retention = "7y")]
async fn delete_user(id: i64) -> Result<(), Error> {
    let _ = id;
    Ok(())
}

fn main() {}

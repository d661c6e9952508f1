use cell_runtime::prelude::*;

#[Audit::log(event = "user_deleted")]
async fn delete_user(id: i64) -> Result<(), Error> {
    let _ = id;
    Ok(())
}

fn main() {}

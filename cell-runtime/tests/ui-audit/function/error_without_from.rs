use cell_runtime::prelude::*;

#[derive(Debug)]
struct MyError;

#[Audit::log(event = "pinged", retention = "7y")]
async fn ping(id: i64) -> Result<(), MyError> {
    let _ = id;
    Ok(())
}

fn main() {}

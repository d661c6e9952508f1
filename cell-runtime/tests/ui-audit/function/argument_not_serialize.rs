use cell_runtime::prelude::*;

struct Secret(Vec<u8>);

#[Audit::log(event = "stored", retention = "7y")]
async fn store(id: i64, secret: Secret) -> Result<(), Error> {
    let _ = (id, secret.0);
    Ok(())
}

fn main() {}

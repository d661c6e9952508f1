use cell_runtime::prelude::*;

#[Audit::log(event = "pinged", retention = "7y")]
async fn ping(id: i64) -> u64 {
    id as u64
}

fn main() {}

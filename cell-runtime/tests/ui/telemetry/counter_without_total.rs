use cell_runtime::prelude::*;

#[Telemetry::metrics(counter = "checkouts")]
fn checkout() {}

fn main() {}

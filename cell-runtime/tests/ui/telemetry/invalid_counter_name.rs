use cell_runtime::prelude::*;

#[Telemetry::metrics(counter = "checkouts-total")]
fn checkout() {}

fn main() {}

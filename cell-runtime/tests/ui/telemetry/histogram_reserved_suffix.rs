use cell_runtime::prelude::*;

#[Telemetry::metrics(histogram = "checkout_count")]
fn checkout() {}

fn main() {}

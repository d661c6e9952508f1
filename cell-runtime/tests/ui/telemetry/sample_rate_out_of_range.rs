use cell_runtime::prelude::*;

#[Telemetry::traces(sampled = "1.5")]
fn checkout() {}

fn main() {}

use cell_runtime::prelude::*;

#[Telemetry::span(level = "debug")]
fn checkout() {}

fn main() {}

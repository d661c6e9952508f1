use cell_runtime::prelude::*;

#[Telemetry::span]
struct Checkout;

fn main() {}

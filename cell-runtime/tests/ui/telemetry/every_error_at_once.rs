use cell_runtime::prelude::*;

#[Telemetry::span(fields = [nobody])]
#[Telemetry::metrics(counter = "checkouts", histogram = "checkout_total")]
fn checkout() {}

fn main() {}

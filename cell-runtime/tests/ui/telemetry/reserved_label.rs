use cell_runtime::prelude::*;

#[Telemetry::metrics(histogram = "checkout_seconds", labels = [le])]
fn checkout(le: u32) {
    let _ = le;
}

fn main() {}

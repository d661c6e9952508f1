use cell_runtime::prelude::*;

#[Telemetry::metrics(counter = "checkouts_total", labels = ["tier"])]
fn checkout(level: &str) {
    let _ = level;
}

fn main() {}

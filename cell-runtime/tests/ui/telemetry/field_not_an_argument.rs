use cell_runtime::prelude::*;

#[Telemetry::span(name = "checkout_flow", fields = [user])]
async fn checkout(tier: &str) {
    let _ = tier;
}

fn main() {}

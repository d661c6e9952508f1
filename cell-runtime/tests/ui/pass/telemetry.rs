use cell_runtime::prelude::*;

#[derive(Debug)]
struct Cart {
    items: u32,
}

#[Telemetry::span(name = "checkout_flow", fields = [tier, cart])]
#[Telemetry::metrics(counter = "checkouts_total", labels = [tier], histogram = "checkout_seconds")]
#[Telemetry::traces(sampled = "0.5")]
async fn checkout(tier: &str, cart: Cart, _secret: String) -> Result<u32, std::io::Error> {
    if cart.items == 0 {
        return Ok(0);
    }
    let n: u32 = "3".parse().map_err(std::io::Error::other)?;
    Ok(n * cart.items)
}

struct Shop;

impl Shop {
    #[Telemetry::span]
    fn open(&self, hour: u8) -> bool {
        hour > 8
    }

    #[Telemetry::metrics(counter = "closes_total")]
    async fn close(&mut self) {}
}

fn main() {
    let _ = checkout("gold", Cart { items: 1 }, String::new());
    let _ = Shop.open(9);
    let _ = Shop.close();
}

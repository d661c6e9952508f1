//! The app's messaging, declared in code: `cargo cell build` makes it real in the RabbitMQ
//! Cell, and `rabbitmqctl list_queues` in its container shows it.

use cell_rabbitmq_macros as RabbitMq;

/// Order events, routed by topic.
#[RabbitMq::exchange(name = "events", kind = "topic")]
pub const EVENTS: &str = "events";

/// Every order event, kept across broker restarts.
#[RabbitMq::queue(name = "orders", bind = "events", routing_key = "order.*")]
pub const ORDERS: &str = "orders";

/// Outgoing mail, waiting for a sender.
#[RabbitMq::queue(name = "mail", durable = false)]
pub const MAIL: &str = "mail";

/// `CELL_RABBITMQ_URL`, which `cargo cell run` and `cargo cell test` set: the broker's
/// management API, with its user and password.
pub fn broker_url() -> Option<String> {
    std::env::var("CELL_RABBITMQ_URL").ok()
}

#[cfg(test)]
mod tests {
    /// Under `cargo cell test` the URL is the Cell's (printed with its password hidden).
    #[test]
    fn the_broker_url_is_the_cells_management_api() {
        if let Some(url) = super::broker_url() {
            let (head, tail) = url.split_once('@').expect("a URL with a user");
            assert!(head.starts_with("http://cell:"), "{head}");
            assert!(tail.starts_with("127.0.0.1:"), "{tail}");
            println!("rabbitmq-app: broker at http://cell:***@{tail}");
        }
    }
}

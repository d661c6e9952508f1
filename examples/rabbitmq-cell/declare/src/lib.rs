//! What `#[RabbitMq::queue]` and `#[RabbitMq::exchange]` declare, as recorded into the
//! manifest (`{"rabbitmq": {"exchange": [...], "queue": [...]}}`) and read by the plugin.

use serde::{Deserialize, Serialize};

/// The Cell's name: its manifest key, labels, lock (`.cell/rabbitmq.lock.json`) and
/// variables (`CELL_RABBITMQ_URL`, `CELL_RABBITMQ_IMAGE`).
pub const CELL_NAME: &str = "rabbitmq";
/// The fragment kinds.
pub const QUEUE: &str = "queue";
pub const EXCHANGE: &str = "exchange";

/// `#[RabbitMq::queue(name = "orders", durable = true, bind = "events", routing_key = "order.*")]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Queue {
    pub name: String,
    pub durable: bool,
    /// The exchange it is bound to, and with which routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<Binding>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binding {
    pub exchange: String,
    pub routing_key: String,
}

/// `#[RabbitMq::exchange(name = "events", kind = "topic", durable = true)]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Exchange {
    pub name: String,
    /// `direct`, `fanout`, `topic` or `headers`.
    pub kind: String,
    pub durable: bool,
}

pub const EXCHANGE_KINDS: &[&str] = &["direct", "fanout", "topic", "headers"];

/// Whether `name` may name a queue or exchange here: it names a fragment file and a URL
/// path segment, so `[A-Za-z0-9_.:-]`, not starting with `amq.` (RabbitMQ's own).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.starts_with("amq.")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["orders", "order.created", "a-b_c:1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".x", "amq.direct", "a/b", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

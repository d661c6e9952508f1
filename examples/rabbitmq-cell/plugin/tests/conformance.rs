//! cell-external's conformance test against this plugin, offline (no broker: plan against
//! the lock, an apply with no endpoint only computes the lock). The end-to-end test in
//! cargo-cell's repository runs it against a live broker too.

#[test]
fn passes_the_conformance_test() {
    let report = cell_external::conformance::Check::new([env!("CARGO_BIN_EXE_cell-rabbitmq")])
        .cell("rabbitmq")
        .manifest(serde_json::json!({
            "exchange": [{"name": "events", "kind": "topic", "durable": true}],
            "queue": [{"name": "orders", "durable": true,
                       "bind": {"exchange": "events", "routing_key": "order.*"}}]
        }))
        .run();
    assert!(report.passed(), "{report}");
}

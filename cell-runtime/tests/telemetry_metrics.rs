//! The `/metrics` endpoint: instrumented calls show up in the Prometheus exposition.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use cell_runtime::prelude::*;

#[Telemetry::metrics(counter = "checkouts_total", labels = [tier], histogram = "checkout_seconds")]
fn checkout(tier: &str) -> u32 {
    tier.len() as u32
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    for _ in 0..100 {
        if let Ok(mut s) = TcpStream::connect(addr) {
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on {addr}");
}

#[test]
fn metrics_endpoint_serves_counters_and_histograms() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    cell_runtime::telemetry::serve_metrics(addr).unwrap();
    for _ in 0..5 {
        checkout("gold");
    }
    checkout("silver");
    let body = get(addr, "/metrics");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("checkouts_total{tier=\"gold\"} 5"), "{body}");
    assert!(
        body.contains("checkouts_total{tier=\"silver\"} 1"),
        "{body}"
    );
    assert!(body.contains("# TYPE checkout_seconds histogram"), "{body}");
    assert!(
        body.contains("checkout_seconds_bucket{tier=\"gold\",le=\"+Inf\"} 5"),
        "{body}"
    );
    assert!(
        body.contains("checkout_seconds_count{tier=\"gold\"} 5"),
        "{body}"
    );

    // A second recorder cannot be installed: a clear error, not a panic.
    let err = cell_runtime::telemetry::serve_metrics(addr).unwrap_err();
    assert!(err.to_string().contains("help:"), "{err}");
}

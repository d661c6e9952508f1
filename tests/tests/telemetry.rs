//! The Telemetry Cell's acceptance, against the real Docker engine and a real Prometheus:
//! `cargo cell plan` lists the declared metrics (for people and as JSON), `cargo cell build`
//! writes the lock and points Prometheus at the app, and after N calls Prometheus's HTTP API
//! returns N; removing a metric shows in the plan. And the app's spans reach an OTLP/HTTP
//! receiver with their names, fields and parents.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cell_e2e::otlp::{OtlpReceiver, ReceivedSpan, Value};
use cell_e2e::{App, apps_target_dir, docker_available, repo_root};

const IMAGE_ENV: &str = "CELL_PROMETHEUS_IMAGE";

/// The Debian-based Prometheus image (scripts/build-prometheus-image, cached by recipe).
fn prometheus_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if let Ok(image) = std::env::var(IMAGE_ENV) {
                return image;
            }
            let status = Command::new(repo_root().join("scripts/build-prometheus-image"))
                .status()
                .expect("scripts/build-prometheus-image runs");
            assert!(status.success(), "scripts/build-prometheus-image failed");
            "cargo-cell/prometheus:2".to_string()
        })
        .clone()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The value of an instant query, when Prometheus has one.
fn query(port: u16, promql: &str) -> Option<String> {
    let body = http_get(port, &format!("/api/v1/query?query={promql}"))?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_string)
}

#[test]
fn prometheus_scrapes_the_app_and_plan_shows_metrics() {
    if !docker_available() {
        return;
    }
    let image = prometheus_image();
    let app = App::copy_example("telemetry");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    app.edit(
        "Cargo.toml",
        "metrics = \"0.0.0.0:9464\"",
        &format!("metrics = \"0.0.0.0:{port}\""),
    );
    app.edit(
        "Cargo.toml",
        "scrape_interval = \"15s\"",
        "scrape_interval = \"1s\"",
    );
    let env = [(IMAGE_ENV, image.as_str())];

    // The plan lists every metric and span before anything exists.
    let plan = app.cargo_cell_with(&["plan"], &env);
    plan.assert_success();
    let out = plan.output();
    for line in [
        "+ metric checkouts_total (counter, labels: tier)",
        "+ metric checkout_seconds (histogram, labels: tier)",
        "+ metric charges_total (counter)",
        "+ span checkout_flow (fields: tier, items)",
        "+ span charge",
        "+ span telemetry::price (fields: items) sampled 0.5",
    ] {
        assert!(out.contains(line), "missing `{line}`:\n{out}");
    }

    // The same plan for machines, and --detailed-exitcode counts it as changes.
    let json = app.cargo_cell_with(&["plan", "--format", "json", "--detailed-exitcode"], &env);
    assert_eq!(json.status.code(), Some(2), "{}", json.output());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["changes"], true);
    let telemetry = &report["cells"]["telemetry"];
    assert_eq!(
        telemetry["summary"],
        serde_json::json!({ "add": 6, "change": 0, "destroy": 0 })
    );
    let added: Vec<&str> = telemetry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|c| assert_eq!(c["action"], "create", "{c}"))
        .map(|c| c["description"].as_str().unwrap())
        .collect();
    for line in [
        "metric checkouts_total (counter, labels: tier)",
        "span checkout_flow (fields: tier, items)",
    ] {
        assert!(added.contains(&line), "missing `{line}`: {added:?}");
    }
    let counter = telemetry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"]["to"]["name"] == "checkouts_total")
        .expect("checkouts_total is added");
    assert_eq!(counter["metric"]["to"]["type"], "counter");
    assert_eq!(
        counter["metric"]["to"]["labels"],
        serde_json::json!(["tier"])
    );

    let build = app.cargo_cell_with(&["build"], &env);
    build.assert_success();
    let lock: serde_json::Value =
        serde_json::from_str(&app.read(".cell/telemetry.lock.json")).unwrap();
    let metrics: Vec<(String, String)> = lock["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        metrics,
        [
            ("charges_total".into(), "counter".into()),
            ("checkout_seconds".into(), "histogram".into()),
            ("checkouts_total".into(), "counter".into()),
        ]
    );
    assert_eq!(lock["metrics"][2]["labels"], serde_json::json!(["tier"]));
    assert_eq!(lock["spans"].as_array().unwrap().len(), 3, "{lock}");
    // Built: the plan has nothing left to do for telemetry.
    let json = app.cargo_cell_with(&["plan", "--format", "json", "--detailed-exitcode"], &env);
    assert_eq!(json.status.code(), Some(0), "{}", json.output());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        report["cells"]["telemetry"]["changes"],
        serde_json::json!([])
    );

    // The container: labelled, Prometheus published on loopback.
    let info = app.inspect();
    assert_eq!(info["Config"]["Labels"]["dev.cell.cell"], "telemetry");
    let binding = &info["NetworkSettings"]["Ports"]["9090/tcp"][0];
    assert_eq!(binding["HostIp"], "127.0.0.1", "{binding}");
    let prom: u16 = binding["HostPort"].as_str().unwrap().parse().unwrap();

    // Run the app: N checkouts, then it keeps serving /metrics until stdin closes.
    const N: u32 = 7;
    let mut child = Command::new(apps_target_dir().join("debug").join("telemetry"))
        .arg(N.to_string())
        .env("CELL_METRICS_ADDR", format!("0.0.0.0:{port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the app runs");
    wait_ready(&mut child, N);

    // Prometheus scrapes every second; wait (bounded) for the scraped values.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut checkouts, mut charges, mut gold) = (None, None, None);
    while Instant::now() < deadline {
        checkouts = query(prom, "sum(checkouts_total)");
        charges = query(prom, "charges_total");
        gold = query(prom, "checkouts_total%7Btier%3D%22gold%22%7D");
        if checkouts.is_some() && charges.is_some() && gold.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    let targets = http_get(prom, "/api/v1/targets").unwrap_or_default();
    assert_eq!(checkouts.as_deref(), Some("7"), "targets: {targets}");
    assert_eq!(charges.as_deref(), Some("7"), "targets: {targets}");
    assert_eq!(gold.as_deref(), Some("4"), "targets: {targets}");

    // Removing a metric from the code shows in the plan.
    app.edit(
        "src/main.rs",
        "#[Telemetry::metrics(counter = \"charges_total\")]\n",
        "",
    );
    let plan = app.cargo_cell_with(&["plan"], &env);
    plan.assert_success();
    let out = plan.output();
    assert!(out.contains("- metric charges_total (counter)"), "{out}");
    assert!(!out.contains("+ metric"), "{out}");
    let json = app.cargo_cell_with(&["plan", "--format", "json", "--detailed-exitcode"], &env);
    assert_eq!(json.status.code(), Some(2), "{}", json.output());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        report["cells"]["telemetry"]["changes"],
        serde_json::json!([{
            "action": "delete",
            "description": "metric charges_total (counter)",
            "metric": { "from": {
                "name": "charges_total",
                "type": "counter",
                "labels": [],
                "functions": ["telemetry::charge"]
            } }
        }])
    );
}

/// The spans the app exported, by name.
fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The app runs N checkouts at once with OTEL_EXPORTER_OTLP_ENDPOINT set; by the time it has
/// exited, an OTLP/HTTP receiver has every span, with the declared fields as attributes and
/// each child in its parent's trace under its parent, across the awaits between them.
#[test]
fn spans_reach_an_otlp_receiver_with_their_fields_and_parents() {
    let receiver = OtlpReceiver::start();
    let app = App::copy_example("telemetry");
    // The Telemetry attributes need no Cell to expand: a plain build, no Docker.
    app.cargo(&["build"]).assert_success();

    const N: u32 = 6;
    let metrics_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(apps_target_dir().join("debug").join("telemetry"))
        .arg(N.to_string())
        .env("CELL_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_SERVICE_NAME", "checkout-test")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the app runs");
    wait_ready(&mut child, N);
    // Closing stdin ends the app; its span exporter sends what it buffered on the way out.
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(receiver.rejected(), Vec::<String>::new());
    let spans = receiver.spans();
    let flows = named(&spans, "checkout_flow");
    assert_eq!(flows.len(), N as usize, "{spans:#?}");
    let mut orders: Vec<(String, i64)> = Vec::new();
    for flow in &flows {
        assert_eq!(flow.service_name.as_deref(), Some("checkout-test"));
        assert_eq!(
            flow.parent_span_id, "",
            "checkout_flow is a root: {flow:#?}"
        );
        assert!(
            !flow.attributes.contains_key("card"),
            "only `fields` are recorded: {flow:#?}"
        );
        match (&flow.attributes.get("tier"), &flow.attributes.get("items")) {
            (Some(Value::Str(tier)), Some(Value::Int(items))) => {
                orders.push((tier.clone(), *items))
            }
            _ => panic!("checkout_flow records tier and items: {flow:#?}"),
        }
    }
    orders.sort();
    let mut expected: Vec<(String, i64)> = (0..N)
        .map(|i| {
            let tier = if i % 2 == 0 { "gold" } else { "silver" };
            (tier.to_string(), i64::from(i) + 1)
        })
        .collect();
    expected.sort();
    assert_eq!(orders, expected);
    let mut traces: Vec<&str> = flows.iter().map(|f| f.trace_id.as_str()).collect();
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), N as usize, "one trace per checkout");

    let parent_of = |child: &ReceivedSpan| -> &ReceivedSpan {
        flows
            .iter()
            .find(|f| f.span_id == child.parent_span_id)
            .unwrap_or_else(|| panic!("{} has no checkout_flow parent: {child:#?}", child.name))
    };
    // `charge` runs after two awaits in `checkout`, on whichever thread resumed it.
    let charges = named(&spans, "charge");
    assert_eq!(charges.len(), N as usize, "{spans:#?}");
    let mut charged: Vec<&str> = Vec::new();
    for charge in &charges {
        let flow = parent_of(charge);
        assert_eq!(charge.trace_id, flow.trace_id);
        assert!(!charge.attributes.contains_key("tier"), "{charge:#?}");
        charged.push(&flow.span_id);
    }
    charged.sort();
    charged.dedup();
    assert_eq!(charged.len(), N as usize, "one charge per checkout");
    // `price` is sampled at 0.5: those that were kept sit under their checkout, same items.
    for price in named(&spans, "telemetry::price") {
        let flow = parent_of(price);
        assert_eq!(price.trace_id, flow.trace_id);
        assert_eq!(price.attributes.get("items"), flow.attributes.get("items"));
    }
}

/// Waits for the example's first line: `ready N` once its N checkouts are done.
#[track_caller]
fn wait_ready(child: &mut std::process::Child, n: u32) {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with(&format!("ready {n}")), "{line}");
}

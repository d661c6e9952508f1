//! The conformance test against plugins: the SDK's smallest plugin passes; broken ones fail
//! at the check that catches them (wrong protocol version, malformed output, a hang bounded
//! by the timeout, an apply that differs from its plan, by its fingerprint or by the plan
//! after it).

mod common;
use common::memory_plugin;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cell_external::conformance::{Check, Report};
use cell_external::session::ProtocolError;

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plugins")
        .join(name)
        .display()
        .to_string()
}

fn manifest() -> serde_json::Value {
    serde_json::json!({"item": [{"name": "a"}, {"name": "b"}]})
}

fn check(command: Vec<String>) -> Report {
    Check::new(command)
        .manifest(manifest())
        .timeout(Duration::from_secs(2))
        .run()
}

#[test]
fn the_sdks_plugin_passes() {
    let report = check(vec![memory_plugin()]);
    assert!(report.passed(), "{report}");
    let checks: Vec<&str> = report.passed.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        checks,
        [
            "hello",
            "describe",
            "unknown verb",
            "malformed request",
            "plan",
            "apply",
            "plan after apply"
        ]
    );
    assert!(report.to_string().contains("cell-memory"), "{report}");
}

#[test]
fn a_wrong_protocol_version_fails_naming_both() {
    let report = check(vec![script("wrong-version")]);
    let f = report.failure.as_ref().expect("fails");
    assert_eq!(f.check, "hello");
    assert!(
        matches!(f.error.as_deref(), Some(ProtocolError::Version { .. })),
        "{f:?}"
    );
    assert!(
        f.message.contains("[99]") && f.message.contains("[1]"),
        "{}",
        f.message
    );
}

#[test]
fn malformed_json_fails() {
    let report = check(vec![script("malformed")]);
    let f = report.failure.as_ref().expect("fails");
    assert_eq!(f.check, "hello");
    assert!(
        matches!(f.error.as_deref(), Some(ProtocolError::Malformed { .. })),
        "{f:?}"
    );
    assert!(
        f.message.contains("starting cell-malformed"),
        "{}",
        f.message
    );
}

#[test]
fn a_hang_fails_within_the_timeout() {
    let start = Instant::now();
    let report = check(vec![script("hang")]);
    let f = report.failure.as_ref().expect("fails");
    assert_eq!(f.check, "describe");
    assert!(
        matches!(f.error.as_deref(), Some(ProtocolError::Timeout { .. })),
        "{f:?}"
    );
    assert!(
        f.message.contains("cell") && f.message.contains("hang"),
        "{}",
        f.message
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_apply_answering_another_plan_fails() {
    let report = check(vec![script("apply-differs")]);
    let f = report.failure.as_ref().expect("fails");
    assert_eq!(f.check, "apply", "{report}");
    assert!(
        f.message.contains("the apply differs from its plan"),
        "{}",
        f.message
    );
}

#[test]
fn an_apply_that_does_not_do_its_plan_fails() {
    // The SDK keeps the fingerprint honest; the plan after the apply catches the rest.
    let report = Check::new([
        "env".to_string(),
        "MEMORY_PLUGIN_BREAK=skip-apply".into(),
        memory_plugin(),
    ])
    .manifest(manifest())
    .run();
    let f = report.failure.as_ref().expect("fails");
    assert_eq!(f.check, "plan after apply", "{report}");
    assert!(f.message.contains("still has 2 changes"), "{}", f.message);
}

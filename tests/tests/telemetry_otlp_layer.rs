//! An application that keeps its own `tracing` subscriber adds the runtime's OTLP layer to
//! it: both see the spans, and the OTLP receiver gets them, configured in code rather than by
//! environment, once `SpanExport::shutdown` returns.

use std::sync::{Arc, Mutex};

use cell_e2e::otlp::{OtlpReceiver, Value};
use cell_runtime::prelude::*;
use cell_runtime::telemetry::otlp::tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use cell_runtime::telemetry::otlp::tracing_subscriber::registry::LookupSpan;
use cell_runtime::telemetry::otlp::{OtlpConfig, SpanExport, tracing_subscriber};

/// The application's own layer: the names of the spans it saw.
#[derive(Clone, Default)]
struct Names(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Names {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: Context<'_, S>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push(attrs.metadata().name().to_string());
    }
}

#[Telemetry::span(name = "refund", fields = [cents])]
async fn refund(cents: u16) -> u16 {
    tokio::task::yield_now().await;
    audit(cents)
}

#[Telemetry::span(name = "audit", fields = [reason])]
fn audit_with(reason: &str, cents: u16) -> u16 {
    let _ = reason;
    cents
}

fn audit(cents: u16) -> u16 {
    audit_with("refund", cents)
}

#[test]
fn the_layer_exports_beside_the_applications_own_subscriber() {
    let receiver = OtlpReceiver::start();
    let export = SpanExport::start(&OtlpConfig::new(
        format!("{}/v1/traces", receiver.endpoint()),
        "refunds",
    ))
    .unwrap();
    assert!(export.is_active());
    let names = Names::default();
    let subscriber = tracing_subscriber::registry()
        .with(names.clone())
        .with(export.layer());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(runtime.block_on(refund(250)), 250);
    });
    export.shutdown().unwrap();

    assert_eq!(*names.0.lock().unwrap(), ["refund", "audit"]);
    assert_eq!(receiver.rejected(), Vec::<String>::new());
    let spans = receiver.spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let refund = spans.iter().find(|s| s.name == "refund").unwrap();
    let audit = spans.iter().find(|s| s.name == "audit").unwrap();
    assert_eq!(refund.service_name.as_deref(), Some("refunds"));
    assert_eq!(refund.attributes.get("cents"), Some(&Value::Int(250)));
    assert_eq!(refund.parent_span_id, "");
    assert_eq!(
        audit.attributes.get("reason"),
        Some(&Value::Str("refund".into()))
    );
    assert_eq!(audit.trace_id, refund.trace_id);
    assert_eq!(audit.parent_span_id, refund.span_id);
}

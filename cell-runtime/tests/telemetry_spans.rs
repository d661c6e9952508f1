//! Spans from `#[Telemetry::span]` as a real `tracing` subscriber sees them: names, recorded
//! fields (only those named), and parent/child links across awaits, with concurrent calls
//! interleaved on one thread.

use std::sync::{Arc, Mutex};

use cell_runtime::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, PartialEq)]
struct SpanSeen {
    name: String,
    fields: Vec<(String, String)>,
    parent: Option<String>,
    /// The parent's fields, to tell two concurrent calls apart.
    parent_fields: Vec<(String, String)>,
}

/// An event's message and the span it was in.
type EventSeen = (String, Option<String>);

#[derive(Default, Clone)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanSeen>>>,
    events: Arc<Mutex<Vec<EventSeen>>>,
}

struct Fields(Vec<(String, String)>);
impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

struct StoredFields(Vec<(String, String)>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(vec![]);
        attrs.record(&mut fields);
        let span = ctx.span(id).expect("new span");
        let parent = span.parent();
        let parent_fields = parent
            .as_ref()
            .and_then(|p| p.extensions().get::<StoredFields>().map(|f| f.0.clone()))
            .unwrap_or_default();
        self.spans.lock().unwrap().push(SpanSeen {
            name: attrs.metadata().name().to_string(),
            fields: fields.0.clone(),
            parent: parent.map(|p| p.name().to_string()),
            parent_fields,
        });
        span.extensions_mut().insert(StoredFields(fields.0));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(vec![]);
        event.record(&mut fields);
        let message = fields
            .0
            .iter()
            .find(|(k, _)| k == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let current = ctx.event_span(event).map(|s| s.name().to_string());
        self.events.lock().unwrap().push((message, current));
    }
}

#[derive(Debug)]
#[allow(dead_code)]
struct Order {
    id: u32,
}

#[Telemetry::span(name = "checkout_flow", fields = [tier, order])]
#[Telemetry::metrics(counter = "checkouts_total", labels = [tier], histogram = "checkout_seconds")]
async fn checkout(tier: &str, order: Order, secret: &str) -> Result<u32, String> {
    let _ = secret;
    tokio::task::yield_now().await;
    let total = price(order.id).await?;
    tokio::task::yield_now().await;
    tracing::info!("charging");
    Ok(charge(total))
}

/// Default name: the function's path.
#[Telemetry::span(fields = [items])]
async fn price(items: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    if items == 0 {
        return Err("empty".into());
    }
    Ok(items * 10)
}

#[Telemetry::span(name = "charge", fields = [total])]
fn charge(total: u32) -> u32 {
    tracing::info!("in charge");
    total + 1
}

#[Telemetry::traces(sampled = "0")]
#[Telemetry::span(name = "never")]
fn never_sampled() {}

#[Telemetry::span(name = "always")]
#[Telemetry::traces(sampled = "1")]
fn always_sampled() {}

fn field<'a>(s: &'a SpanSeen, key: &str) -> Option<&'a str> {
    s.fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn spans_follow_futures_across_awaits() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (a, b, ()) = rt.block_on(async {
        tokio::join!(
            checkout("gold", Order { id: 2 }, "hunter2"),
            checkout("silver", Order { id: 3 }, "hunter3"),
            async {
                tokio::task::yield_now().await;
                tracing::info!("outside");
            }
        )
    });
    assert_eq!((a, b), (Ok(21), Ok(31)));
    assert_eq!(rt.block_on(price(0)), Err("empty".to_string()));

    let spans = capture.spans.lock().unwrap().clone();
    let flows: Vec<_> = spans.iter().filter(|s| s.name == "checkout_flow").collect();
    assert_eq!(flows.len(), 2, "{spans:#?}");
    assert_eq!(field(flows[0], "tier"), Some("gold"));
    assert_eq!(field(flows[0], "order"), Some("Order { id: 2 }"));
    assert_eq!(
        flows[0].fields.len(),
        2,
        "only named arguments: {:?}",
        flows[0].fields
    );
    assert!(!format!("{spans:?}").contains("hunter"), "secret recorded");
    assert_eq!(flows[0].parent, None);

    // The default name is the function's path; each child's parent is its own call's span.
    let prices: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "telemetry_spans::price")
        .collect();
    assert_eq!(prices.len(), 3, "{spans:#?}");
    let mut children = vec![];
    for p in &prices {
        match p.parent.as_deref() {
            Some("checkout_flow") => children.push((
                field_of(&p.parent_fields, "tier").unwrap().to_string(),
                field(p, "items").unwrap().to_string(),
            )),
            None => assert_eq!(field(p, "items"), Some("0"), "the direct call is a root"),
            other => panic!("unexpected parent {other:?}"),
        }
    }
    children.sort();
    assert_eq!(
        children,
        [
            ("gold".to_string(), "2".to_string()),
            ("silver".into(), "3".into())
        ]
    );
    let charges: Vec<_> = spans.iter().filter(|s| s.name == "charge").collect();
    assert_eq!(charges.len(), 2);
    for c in &charges {
        assert_eq!(c.parent.as_deref(), Some("checkout_flow"));
    }
    let tiers: Vec<_> = charges
        .iter()
        .map(|c| field_of(&c.parent_fields, "tier"))
        .collect();
    assert!(tiers.contains(&Some("gold")) && tiers.contains(&Some("silver")));

    // Events land in the span that was current, and none leaks into a sibling future
    // while a checkout is suspended.
    let events = capture.events.lock().unwrap().clone();
    assert!(events.contains(&("outside".into(), None)), "{events:?}");
    assert!(
        events.contains(&("in charge".into(), Some("charge".into()))),
        "{events:?}"
    );
    assert!(
        events.contains(&("charging".into(), Some("checkout_flow".into()))),
        "{events:?}"
    );
}

fn field_of<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn sampling_zero_makes_no_span_and_one_always() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    for _ in 0..10 {
        never_sampled();
        always_sampled();
    }
    let spans = capture.spans.lock().unwrap().clone();
    assert_eq!(spans.iter().filter(|s| s.name == "never").count(), 0);
    assert_eq!(spans.iter().filter(|s| s.name == "always").count(), 10);
}

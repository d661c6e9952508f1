//! What the code declares: one [`FnDecl`] per instrumented function, recorded in the manifest
//! as `telemetry.fn.<name>.json`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FnDecl {
    /// The function's path as the macro sees it (`shop::checkout`), for messages.
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<SpanDecl>,
    /// The counter and histogram of `#[Telemetry::metrics]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDecl>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanDecl {
    pub name: String,
    /// Arguments recorded as span fields, in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// `#[Telemetry::traces(sampled = "0.1")]`: the share of calls that get a span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_async: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetricDecl {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// Label names (each an argument of the function), in the order written.
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Counter,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl FnDecl {
    /// The fragment's file-name part: the span's name, else the first metric's.
    pub fn record_name(&self) -> String {
        let name = match (&self.span, self.metrics.first()) {
            (Some(s), _) => s.name.clone(),
            (None, Some(m)) => m.name.clone(),
            (None, None) => self.function.clone(),
        };
        name.replace("::", "__")
    }
}

// `sampled` is checked to lie in 0..=1 when parsed, so it is never NaN.
impl Eq for FnDecl {}
impl Eq for SpanDecl {}

//! Export of `#[Telemetry::span]` spans over OTLP/HTTP (protobuf), to an OpenTelemetry
//! Collector, Jaeger, Tempo or any other OTLP receiver.
//!
//! Configured by the standard variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL
//! spans are posted to) or else `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, to which
//! `/v1/traces` is added), and `OTEL_SERVICE_NAME`; `OTEL_SDK_DISABLED=true` turns export
//! off. Without an endpoint nothing is exported and nothing is installed, so the spans cost
//! what `tracing` spans cost without a subscriber interested in them.
//!
//! Spans stay `tracing` spans: [`SpanExport::layer`] is a `tracing_subscriber` layer an
//! application adds to its own subscriber, and [`init_from_env`] installs a subscriber with
//! only that layer for applications that have none. Either way, keep the [`SpanExport`]
//! until the end of `main`: dropping it sends the spans still buffered.
//!
//! ```no_run
//! # fn main() -> Result<(), cell_runtime::Error> {
//! // An application without a subscriber of its own:
//! let _spans = cell_runtime::telemetry::otlp::init_from_env()?;
//!
//! // Or, beside its own layers:
//! use cell_runtime::telemetry::otlp::{SpanExport, tracing_subscriber};
//! use tracing_subscriber::layer::SubscriberExt;
//! let export = SpanExport::from_env()?;
//! let subscriber = tracing_subscriber::registry().with(export.layer());
//! tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
//! # Ok(()) }
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::registry::LookupSpan;

use crate::Error;

/// The `tracing_subscriber` the layer is built for, so an application's subscriber uses the
/// same version.
pub use tracing_subscriber;

pub const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";
pub const SDK_DISABLED_ENV: &str = "OTEL_SDK_DISABLED";
pub const PROTOCOL_ENV: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub const TRACES_PROTOCOL_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";

/// The path OTLP/HTTP receivers take spans on, below `OTEL_EXPORTER_OTLP_ENDPOINT`.
const TRACES_PATH: &str = "v1/traces";
/// The instrumentation scope of the exported spans.
const SCOPE: &str = "cell-runtime";

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The URL spans are posted to (`http://collector:4318/v1/traces`); `None`: no export.
    pub traces_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

impl OtlpConfig {
    /// Export to `traces_endpoint` (the full URL, `/v1/traces` included).
    pub fn new(traces_endpoint: impl Into<String>, service_name: impl Into<String>) -> OtlpConfig {
        OtlpConfig {
            traces_endpoint: Some(traces_endpoint.into()),
            service_name: service_name.into(),
        }
    }

    /// No export.
    pub fn disabled() -> OtlpConfig {
        OtlpConfig {
            traces_endpoint: None,
            service_name: default_service_name(),
        }
    }

    /// The configuration the `OTEL_*` variables of this process give.
    pub fn from_env() -> Result<OtlpConfig, Error> {
        OtlpConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// The configuration `var` gives (a variable's value, `None` when unset); empty values
    /// count as unset, as the OpenTelemetry specification says.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<OtlpConfig, Error> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        for name in [TRACES_PROTOCOL_ENV, PROTOCOL_ENV] {
            if let Some(protocol) = var(name) {
                if protocol != "http/protobuf" {
                    return Err(Error::Telemetry {
                        message: format!(
                            "{name}={protocol}: cell-runtime exports spans over OTLP/HTTP with protobuf only"
                        ),
                        help: format!(
                            "unset {name} or set it to http/protobuf, and point the endpoint at the receiver's HTTP port (4318 by default)"
                        ),
                    });
                }
                break;
            }
        }
        let disabled = var(SDK_DISABLED_ENV).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let traces_endpoint = if disabled {
            None
        } else {
            var(TRACES_ENDPOINT_ENV).or_else(|| var(ENDPOINT_ENV).map(|base| traces_url(&base)))
        };
        Ok(OtlpConfig {
            traces_endpoint,
            service_name: var(SERVICE_NAME_ENV).unwrap_or_else(default_service_name),
        })
    }
}

/// `base` + `/v1/traces`, with one slash between them.
fn traces_url(base: &str) -> String {
    format!("{}/{TRACES_PATH}", base.trim_end_matches('/'))
}

/// The executable's name, which is what a service is usually called, else the SDK's
/// `unknown_service`.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".into())
}

/// The span exporter, when one is configured. Dropping it (or [`SpanExport::shutdown`])
/// exports the spans still buffered and stops the exporter's thread.
pub struct SpanExport {
    provider: Option<SdkTracerProvider>,
}

/// The `tracing_subscriber` layer that turns spans into OpenTelemetry spans.
pub type OtlpLayer<S> = tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>;

impl SpanExport {
    /// Starts the exporter `config` asks for: none without an endpoint. Spans are batched and
    /// posted from a thread of the exporter's own, so no async runtime is needed.
    pub fn start(config: &OtlpConfig) -> Result<SpanExport, Error> {
        let Some(endpoint) = &config.traces_endpoint else {
            return Ok(SpanExport { provider: None });
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| Error::Telemetry {
                message: format!("cannot export spans to {endpoint}: {e}"),
                help: format!(
                    "set {TRACES_ENDPOINT_ENV} to the receiver's URL, like http://127.0.0.1:4318/v1/traces, or {ENDPOINT_ENV} to its base URL"
                ),
            })?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(SpanExport {
            provider: Some(provider),
        })
    }

    /// [`SpanExport::start`] with the configuration of the `OTEL_*` variables.
    pub fn from_env() -> Result<SpanExport, Error> {
        SpanExport::start(&OtlpConfig::from_env()?)
    }

    /// Whether spans are exported.
    pub fn is_active(&self) -> bool {
        self.provider.is_some()
    }

    /// The layer to add to a subscriber; `None` (a layer that does nothing) when nothing is
    /// exported.
    pub fn layer<S>(&self) -> Option<OtlpLayer<S>>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let provider = self.provider.as_ref()?;
        Some(tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE)))
    }

    /// Exports the spans still buffered and stops the exporter.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), Error> {
        let Some(provider) = self.provider.take() else {
            return Ok(());
        };
        provider.shutdown().map_err(|e| Error::Telemetry {
            message: format!("spans may be lost: the OTLP exporter did not shut down cleanly: {e}"),
            help: "check that the OTLP receiver is up and reachable at the configured endpoint"
                .into(),
        })
    }
}

impl Drop for SpanExport {
    fn drop(&mut self) {
        // Nobody can be told here; `shutdown` reports the error instead.
        let _ = self.stop();
    }
}

/// For applications without a subscriber of their own: when an endpoint is configured,
/// installs a subscriber that exports spans as the global default. Keep what it returns
/// until the end of `main`.
pub fn init_from_env() -> Result<SpanExport, Error> {
    use tracing_subscriber::layer::SubscriberExt;

    let export = SpanExport::from_env()?;
    if export.is_active() {
        let subscriber = tracing_subscriber::registry().with(export.layer());
        tracing::subscriber::set_global_default(subscriber).map_err(|_| Error::Telemetry {
            message: "cannot export spans: a global tracing subscriber is already installed"
                .into(),
            help: "add `SpanExport::from_env()?.layer()` to that subscriber instead of calling init_from_env".into(),
        })?;
    }
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<OtlpConfig, Error> {
        OtlpConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn without_an_endpoint_no_exporter_is_installed() {
        let config = config(&[(SERVICE_NAME_ENV, "shop")]).unwrap();
        assert_eq!(config.traces_endpoint, None);
        let export = SpanExport::start(&config).unwrap();
        assert!(!export.is_active());
        assert!(export.layer::<tracing_subscriber::Registry>().is_none());
        export.shutdown().unwrap();
    }

    #[test]
    fn empty_or_disabled_means_no_endpoint() {
        assert_eq!(
            config(&[(ENDPOINT_ENV, " ")]).unwrap().traces_endpoint,
            None
        );
        let off = config(&[(ENDPOINT_ENV, "http://c:4318"), (SDK_DISABLED_ENV, "true")]).unwrap();
        assert_eq!(off.traces_endpoint, None);
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path() {
        for base in ["http://c:4318", "http://c:4318/"] {
            let c = config(&[(ENDPOINT_ENV, base)]).unwrap();
            assert_eq!(
                c.traces_endpoint.as_deref(),
                Some("http://c:4318/v1/traces")
            );
        }
        let c = config(&[(ENDPOINT_ENV, "http://gw/otlp")]).unwrap();
        assert_eq!(
            c.traces_endpoint.as_deref(),
            Some("http://gw/otlp/v1/traces")
        );
    }

    #[test]
    fn the_traces_endpoint_is_taken_as_it_is_and_wins() {
        let c = config(&[
            (ENDPOINT_ENV, "http://c:4318"),
            (TRACES_ENDPOINT_ENV, "http://t:9999/spans"),
            (SERVICE_NAME_ENV, "shop"),
        ])
        .unwrap();
        assert_eq!(c.traces_endpoint.as_deref(), Some("http://t:9999/spans"));
        assert_eq!(c.service_name, "shop");
    }

    #[test]
    fn grpc_is_refused_with_help() {
        let err = config(&[(ENDPOINT_ENV, "http://c:4317"), (PROTOCOL_ENV, "grpc")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("http/protobuf"), "{text}");
        assert!(config(&[(PROTOCOL_ENV, "http/protobuf")]).is_ok());
    }

    #[test]
    fn an_endpoint_starts_an_exporter_and_a_layer() {
        // Nothing listens there: export fails later, in the background, not here.
        let export =
            SpanExport::start(&OtlpConfig::new("http://127.0.0.1:9/v1/traces", "shop")).unwrap();
        assert!(export.is_active());
        assert!(export.layer::<tracing_subscriber::Registry>().is_some());
    }

    #[test]
    fn a_malformed_endpoint_is_an_error_with_help() {
        let err = SpanExport::start(&OtlpConfig::new("not a url", "shop"))
            .err()
            .expect("refused");
        assert!(err.to_string().contains(TRACES_ENDPOINT_ENV), "{err}");
    }
}

use crate::metrics::PrometheusReader;
use brain_config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::{Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator};
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// The environment variable that switches OTLP export on (standard OpenTelemetry name).
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter `{filter}`: {reason}")]
    Filter { filter: String, reason: String },
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    /// `service.name` of the OpenTelemetry resource, e.g. `industry-brain`.
    pub service_name: String,
    /// Extra resource attributes, e.g. the industry code and the targets of this process.
    pub attributes: Vec<(String, String)>,
    pub log_format: LogFormat,
    pub log_level: String,
}

/// Owns the providers; call [`Telemetry::shutdown`] at exit to flush what is buffered.
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    prometheus: PrometheusReader,
    otlp: bool,
}

impl Telemetry {
    /// Metrics of this process in the Prometheus text exposition format.
    pub fn render_prometheus(&self) -> String {
        self.prometheus.render()
    }

    /// Whether traces and metrics are exported by OTLP.
    pub fn exports_otlp(&self) -> bool {
        self.otlp
    }

    /// Flushes buffered spans and metrics (bounded by the SDK's own timeouts).
    pub fn shutdown(&self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            tracing::warn!(%error, "tracer provider shutdown");
        }
        if let Err(error) = self.meter_provider.shutdown() {
            tracing::warn!(%error, "meter provider shutdown");
        }
    }
}

/// Installs the global subscriber, propagator, tracer and meter providers.
///
/// Installing the subscriber twice in one process (tests) keeps the first one.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otlp = std::env::var(OTLP_ENDPOINT_VAR).is_ok_and(|v| !v.trim().is_empty());

    let mut resource = Resource::builder().with_service_name(settings.service_name.clone());
    for (key, value) in &settings.attributes {
        resource = resource.with_attribute(opentelemetry::KeyValue::new(key.clone(), value.clone()));
    }
    let resource = resource.build();

    // Spans always get OpenTelemetry contexts so trace ids flow through a process even when
    // it exports nothing; the exporter is added only when an endpoint is configured.
    let mut tracer_builder = SdkTracerProvider::builder().with_resource(resource.clone());
    let prometheus = PrometheusReader::new();
    let mut meter_builder = SdkMeterProvider::builder().with_resource(resource).with_reader(prometheus.clone());
    if !otlp {
        // Nothing would receive the spans: keep their contexts (ids still propagate, sampled
        // callers are still followed) but do not record root spans.
        tracer_builder = tracer_builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    }
    if otlp {
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        tracer_builder = tracer_builder.with_batch_exporter(spans);
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        meter_builder = meter_builder.with_periodic_exporter(metrics);
    }
    let tracer_provider = tracer_builder.build();
    let meter_provider = meter_builder.build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());

    let filter = EnvFilter::try_new(&settings.log_level)
        .map_err(|e| TelemetryError::Filter { filter: settings.log_level.clone(), reason: e.to_string() })?;
    // Per poll and per span, these cost clock reads and allocations on every request; nothing
    // here reads them: trace context is taken from the `tracing` span (`propagation`), not
    // from an activated OpenTelemetry context, and a task's thread or busy time says little.
    let otel_layer = tracing_opentelemetry::layer()
        .with_context_activation(false)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_tracer(tracer_provider.tracer("industry-brain"));
    let json = match settings.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let installed = if json {
        registry
            .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(std::io::stderr))
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).try_init()
    };
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed; keeping it");
    }
    Ok(Telemetry { tracer_provider, meter_provider, prometheus, otlp })
}

//! Export of the server's `tracing` spans to an OpenTelemetry collector over OTLP/HTTP
//! (protobuf), with the `otel` feature.
//!
//! [`layer`] builds a `tracing-subscriber` layer feeding a batch span processor; [`Exporter`]
//! flushes what is left of its batches when the server stops. Requests are sent with the
//! server's own HTTP client (reqwest, with TLS when the `tls` feature is on), on the server's
//! tokio runtime; the batch processor runs on a thread of its own.

use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{Bytes, HeaderExtractor, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Metadata, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use crate::config::ConfigError;

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long stopping waits for the last spans to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest collector answer read (it is a short protobuf message).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The span exporter of a running server; [`Exporter::shutdown`] sends what is still batched.
#[derive(Debug)]
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Sends the spans still batched (waiting at most 5 seconds) and stops exporting. Call it
    /// from outside the runtime's worker threads, while the runtime is still alive.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(error = %e, "OpenTelemetry: the last spans could not be exported");
        }
    }
}

/// A layer exporting spans to `traces_url` as service `service_name`, and the [`Exporter`]
/// to shut down when the server stops. Sets the W3C trace-context propagator, so that request
/// spans adopt the caller's `traceparent`.
///
/// Exported: the spans of this crate (DEBUG and above, which includes every request span), with
/// the events logged inside them at INFO and above; whatever the log level.
pub fn layer<S>(
    traces_url: &str,
    service_name: &str,
    runtime: tokio::runtime::Handle,
) -> Result<(impl Layer<S> + use<S>, Exporter), ConfigError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let bad = |message: String| ConfigError::new("otel-endpoint", message);
    let url: reqwest::Url = traces_url.parse().map_err(|e| bad(format!("{traces_url:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("{traces_url:?}: use an http:// or https:// URL (OTLP/HTTP)")));
    }
    let http = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(OnRuntime { http, runtime })
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(env!("CARGO_PKG_NAME")))
        .with_threads(false)
        .with_filter(filter_fn(exported));
    Ok((layer, Exporter { provider }))
}

/// Whether the exporter takes this span or event: this crate's spans at DEBUG and above, and
/// its events at INFO and above.
fn exported(meta: &Metadata<'_>) -> bool {
    let ours = meta.target().split("::").next() == Some(env!("CARGO_CRATE_NAME"));
    let level = if meta.is_span() { Level::DEBUG } else { Level::INFO };
    ours && *meta.level() <= level
}

/// Makes `span` (a request span, not yet entered) a child of the span the request's W3C
/// `traceparent` header names, if it names one and the propagator is set (by [`layer`]).
pub(crate) fn adopt_remote_parent(span: &Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The exporter's HTTP client: the server's reqwest client, run on the server's runtime (the
/// batch processor's thread has no runtime of its own).
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
            let mut answer = http.execute(request).await?;
            let mut response = Response::builder().status(answer.status());
            if let Some(headers) = response.headers_mut() {
                headers.extend(answer.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HttpError::from("the collector's answer is larger than 64 KiB"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(response.body(Bytes::from(body))?)
        });
        sent.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_endpoints_are_config_errors() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for url in ["not a url", "grpc://collector:4317/v1/traces"] {
            let err = layer::<tracing_subscriber::Registry>(url, "s", runtime.handle().clone()).err().unwrap();
            assert_eq!(err.setting, "otel-endpoint", "{url}");
        }
    }
}

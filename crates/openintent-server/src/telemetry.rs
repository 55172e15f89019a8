//! The `tracing` span of every request, and (with the `otel` feature) their export to an
//! OpenTelemetry collector over OTLP/HTTP ([`otel`]).
//!
//! Each request runs in a `request` span (level DEBUG, target `openintent_server::telemetry`)
//! with OpenTelemetry's HTTP attribute names: `http.request.method`, `url.path` (never the
//! query string), `http.route` (the matched route template, e.g. `/api/v1/intents/{id}`; absent
//! when no route matched), `http.response.status_code` once the response is ready, and
//! `openintent.trace_id` when the request carries an RFC-0020 trace id (an event's `trace_id`,
//! or the `trace_id` query of `GET /api/v1/events`). Headers, API keys and bodies are never
//! recorded. With the exporter on, an incoming W3C `traceparent` header makes the span a child
//! of the caller's span.

#[cfg(feature = "otel")]
pub mod otel;

/// Built without the `otel` feature: no exporter.
#[cfg(not(feature = "otel"))]
pub mod otel {
    /// No value: there is no exporter to shut down.
    #[derive(Debug)]
    pub enum Exporter {}

    impl Exporter {
        /// Never called.
        pub fn shutdown(self) {
            match self {}
        }
    }
}

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnRequest, TraceLayer};
use tracing::Span;
use tracing::field::Empty;

/// The name of the span attribute holding a request's RFC-0020 trace id.
pub const TRACE_ID_FIELD: &str = "openintent.trace_id";

/// Makes the span of a request.
type MakeSpan = fn(&Request<axum::body::Body>) -> Span;

/// Records the response on the span.
type OnResponse = fn(&Response<axum::body::Body>, Duration, &Span);

/// The layer [`layer`] builds.
type RequestTracing = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    MakeSpan,
    DefaultOnRequest,
    OnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    DefaultOnFailure,
>;

/// The request-tracing layer of the router: [`request_span`] for each request,
/// [`record_response`] when its response is ready, tower-http's DEBUG events otherwise.
pub(crate) fn layer() -> RequestTracing {
    TraceLayer::new_for_http().make_span_with(request_span as MakeSpan).on_response(record_response as OnResponse)
}

/// The span of one request (see the module documentation for its fields).
pub(crate) fn request_span<B>(request: &Request<B>) -> Span {
    let method = request.method().as_str();
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let span = tracing::debug_span!(
        "request",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        openintent.trace_id = Empty,
    );
    // The name is formatted only for a span something records (not per request otherwise).
    if !span.is_disabled() {
        match route {
            Some(route) => span.record("otel.name", format!("{method} {route}")),
            None => span.record("otel.name", method),
        };
    }
    #[cfg(feature = "otel")]
    otel::adopt_remote_parent(&span, request.headers());
    span
}

/// Records the response status on the request span (and marks 5xx answers as errors).
fn record_response<B>(response: &Response<B>, latency: Duration, span: &Span) {
    let status = response.status();
    // As i64: the exporter takes unsigned integers for strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(parent: span, status = status.as_u16(), latency_ms = latency.as_millis(), "finished processing request");
}

/// Records `trace_id` (an RFC-0020 trace id the request carries) on the current request span.
pub(crate) fn record_trace_id(trace_id: &str) {
    Span::current().record(TRACE_ID_FIELD, trace_id);
}

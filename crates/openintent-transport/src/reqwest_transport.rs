//! The production transport over `reqwest`.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::{Headers, Method, Request, Response, StreamResponse, Transport, TransportError, USER_AGENT};

/// The default time allowed to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time allowed for a whole request (not for streams).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A configuration problem found by [`ReqwestTransportBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `base_url` is not an absolute `http` or `https` URL.
    #[error("invalid base_url `{url}`: {reason}")]
    InvalidBaseUrl {
        /// The rejected value.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `api_key` contains characters that cannot appear in a header value.
    #[error("invalid api_key: it contains characters not allowed in an HTTP header")]
    InvalidApiKey,
    /// `agent_id` contains characters that cannot appear in a header value.
    #[error("invalid agent_id `{0}`: it contains characters not allowed in an HTTP header")]
    InvalidAgentId(String),
    /// A timeout was zero.
    #[error("invalid {field}: must be greater than zero")]
    ZeroTimeout {
        /// `connect_timeout` or `request_timeout`.
        field: &'static str,
    },
    /// The HTTP client could not be created (e.g. no TLS backend available).
    #[error("could not create the HTTP client: {0}")]
    Client(String),
}

/// Builds a [`ReqwestTransport`].
///
/// ```
/// use std::time::Duration;
/// use openintent_transport::ReqwestTransport;
///
/// let transport = ReqwestTransport::builder("http://localhost:8000")
///     .api_key("dev-user-key")
///     .agent_id("agent-research")
///     .connect_timeout(Duration::from_secs(5))
///     .request_timeout(Duration::from_secs(20))
///     .build()?;
/// assert!(!format!("{transport:?}").contains("dev-user-key"));
/// # Ok::<(), openintent_transport::BuildError>(())
/// ```
pub struct ReqwestTransportBuilder {
    base_url: String,
    api_key: Option<SecretString>,
    agent_id: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: String,
}

impl fmt::Debug for ReqwestTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransportBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("agent_id", &self.agent_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl ReqwestTransportBuilder {
    /// Sets the API key sent as `X-API-Key` on every request.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Sets the API key from a [`SecretString`].
    pub fn api_key_secret(mut self, key: SecretString) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Sets the agent id sent as `X-Agent-ID` on every request.
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Time allowed to establish a connection (default 10 s). Applies to
    /// streams as well.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole [`send`](Transport::send), from connecting to
    /// the last body byte (default 30 s). [`Request::timeout`] overrides it
    /// per request. Does not apply to [`send_stream`](Transport::send_stream).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Replaces the `User-Agent` (default `openintent-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Validates the settings and creates the transport with its connection
    /// pool.
    pub fn build(self) -> Result<ReqwestTransport, BuildError> {
        let base_url = parse_base_url(&self.base_url)?;
        if self.connect_timeout.is_zero() {
            return Err(BuildError::ZeroTimeout { field: "connect_timeout" });
        }
        if self.request_timeout.is_zero() {
            return Err(BuildError::ZeroTimeout { field: "request_timeout" });
        }

        let mut defaults = HeaderMap::new();
        if let Some(key) = &self.api_key {
            let mut value = HeaderValue::from_str(key.expose_secret()).map_err(|_| BuildError::InvalidApiKey)?;
            value.set_sensitive(true);
            defaults.insert(HeaderName::from_static("x-api-key"), value);
        }
        if let Some(agent) = &self.agent_id {
            let value = HeaderValue::from_str(agent).map_err(|_| BuildError::InvalidAgentId(agent.clone()))?;
            defaults.insert(HeaderName::from_static("x-agent-id"), value);
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| BuildError::Client(format!("invalid user_agent `{}`", self.user_agent)))?;
        defaults.insert(reqwest::header::USER_AGENT, user_agent);

        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .build()
            .map_err(|e| BuildError::Client(e.to_string()))?;

        Ok(ReqwestTransport {
            client,
            base_url,
            defaults,
            has_api_key: self.api_key.is_some(),
            agent_id: self.agent_id,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
        })
    }
}

fn parse_base_url(raw: &str) -> Result<reqwest::Url, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidBaseUrl { url: raw.to_owned(), reason: reason.to_owned() };
    let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query string or fragment is not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed; use api_key"));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// A [`Transport`] over a pooled, keep-alive `reqwest` client.
///
/// Every request carries `User-Agent: openintent-rs/<version>`, `X-API-Key`
/// and `X-Agent-ID` when configured, `Accept: application/json` (or
/// `text/event-stream` for streams) and `Content-Type: application/json` when
/// it has a body; headers set on the [`Request`] win. Redirects are not
/// followed and nothing is retried: wrap it in
/// [`RetryingTransport`](crate::RetryingTransport) for that.
///
/// It needs a Tokio runtime with the time and I/O drivers enabled. The API
/// key is held in a [`SecretString`] and never appears in `Debug` output or
/// in logs.
///
/// ```no_run
/// use openintent_transport::{ReqwestTransport, Request, Transport};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let transport = ReqwestTransport::builder("http://localhost:8000")
///     .api_key("dev-user-key")
///     .build()?;
/// let resp = transport.send(Request::get("/api/v1/intents/some-id")).await?;
/// println!("{} {}", resp.status, resp.text());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    base_url: reqwest::Url,
    defaults: HeaderMap,
    has_api_key: bool,
    agent_id: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &self.has_api_key.then_some("<redacted>"))
            .field("agent_id", &self.agent_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl ReqwestTransport {
    /// Starts a builder for the server at `base_url` (e.g. `http://localhost:8000`).
    pub fn builder(base_url: impl Into<String>) -> ReqwestTransportBuilder {
        ReqwestTransportBuilder {
            base_url: base_url.into(),
            api_key: None,
            agent_id: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// The validated base URL (without a trailing slash).
    pub fn base_url(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// The configured agent id.
    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    /// The full URL for a request (base URL + path + query).
    fn url_for(&self, req: &Request) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let base_path = url.path().trim_end_matches('/');
        let path = if req.path.starts_with('/') {
            format!("{base_path}{}", req.path)
        } else {
            format!("{base_path}/{}", req.path)
        };
        url.set_path(&path);
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        url
    }

    fn build_request(&self, req: Request, accept: &'static str) -> Result<reqwest::RequestBuilder, TransportError> {
        let url = self.url_for(&req);
        let mut headers = self.defaults.clone();
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        if req.body.is_some() {
            headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        // Headers set on the request replace the defaults of the same name.
        let mut replaced: Vec<HeaderName> = Vec::new();
        for (name, value) in req.headers.iter() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| TransportError::invalid_request(format!("invalid header name `{name}`")).with_source(e))?;
            let mut value = HeaderValue::from_str(value).map_err(|e| {
                TransportError::invalid_request(format!("invalid value for header `{name}`")).with_source(e)
            })?;
            if crate::is_sensitive_header(name.as_str()) {
                value.set_sensitive(true);
            }
            if !replaced.contains(&name) {
                headers.remove(&name);
                replaced.push(name.clone());
            }
            headers.append(name, value);
        }
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
            Method::Options => reqwest::Method::OPTIONS,
        };
        let mut builder = self.client.request(method, url).headers(headers);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        Ok(builder)
    }
}

fn convert_headers(map: &HeaderMap) -> Headers {
    map.iter().map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// Strips the query from a URL for messages (query values are not secret
/// here, but they can be long).
fn display_url(url: Option<&reqwest::Url>) -> String {
    match url {
        Some(u) => {
            let mut u = u.clone();
            u.set_query(None);
            u.to_string()
        }
        None => "the server".to_owned(),
    }
}

/// Maps a `reqwest` error onto a [`TransportError`] kind.
fn map_error(err: reqwest::Error) -> TransportError {
    let target = display_url(err.url());
    let mapped = if err.is_builder() {
        TransportError::invalid_request(format!("could not build the request to {target}"))
    } else if err.is_connect() {
        if err.is_timeout() || source_chain_has_timeout(&err) {
            TransportError::connect_timeout(format!("connecting to {target} timed out"))
        } else {
            TransportError::connect(format!("could not connect to {target}"))
        }
    } else if err.is_timeout() {
        TransportError::timeout(format!("request to {target} timed out"))
    } else if err.is_body() || err.is_decode() {
        TransportError::body(format!("could not read the response body from {target}"))
    } else if err.is_request() {
        if source_chain_has_io(&err) {
            TransportError::io(format!("connection to {target} failed mid-request"))
        } else {
            TransportError::protocol(format!("request to {target} failed"))
        }
    } else {
        TransportError::other(format!("request to {target} failed"))
    };
    mapped.with_source(err.without_url())
}

fn source_chain_has_io(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<std::io::Error>() {
            return true;
        }
        cur = e.source();
    }
    false
}

fn source_chain_has_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        cur = e.source();
    }
    false
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        let span = tracing::debug_span!(
            "openintent.http",
            method = %req.method,
            path = %req.path,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let timeout = req.timeout.unwrap_or(self.request_timeout);
        let builder = self.build_request(req, "application/json")?.timeout(timeout);
        async move {
            let started = Instant::now();
            let result = async {
                let resp = builder.send().await.map_err(map_error)?;
                let status = resp.status().as_u16();
                let headers = convert_headers(resp.headers());
                let body = resp.bytes().await.map_err(map_error)?;
                Ok(Response::from_parts(status, headers, body))
            }
            .await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let span = tracing::Span::current();
            span.record("latency_ms", latency_ms);
            match &result {
                Ok(resp) => {
                    span.record("status", resp.status);
                    tracing::debug!(status = resp.status, latency_ms, "response received");
                }
                Err(e) => tracing::debug!(error = %e, latency_ms, "request failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        let span = tracing::debug_span!(
            "openintent.http.stream",
            method = %req.method,
            path = %req.path,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let head_timeout = req.timeout;
        let builder = self.build_request(req, "text/event-stream")?;
        async move {
            let started = Instant::now();
            let sent = builder.send();
            let result = match head_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(r) => r.map_err(map_error),
                    Err(_) => Err(TransportError::timeout(format!("no response head within {limit:?}"))),
                },
                None => sent.await.map_err(map_error),
            };
            let latency_ms = started.elapsed().as_millis() as u64;
            let span = tracing::Span::current();
            span.record("latency_ms", latency_ms);
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    tracing::debug!(error = %e, latency_ms, "stream request failed");
                    return Err(e);
                }
            };
            let status = resp.status().as_u16();
            span.record("status", status);
            tracing::debug!(status, latency_ms, "stream opened");
            let headers = convert_headers(resp.headers());
            let body = resp.bytes_stream().map(|r| r.map_err(map_error));
            Ok(StreamResponse::new(status, headers, body))
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_validation_names_the_problem() {
        for bad in ["", "localhost:8000", "ftp://host", "http://", "http://h/?q=1", "http://u:p@h/"] {
            let err = ReqwestTransport::builder(bad).build().unwrap_err();
            assert!(matches!(err, BuildError::InvalidBaseUrl { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains("base_url"));
        }
        assert!(ReqwestTransport::builder("https://example.com/").build().is_ok());
    }

    #[test]
    fn urls_join_base_path_and_query() {
        let t = ReqwestTransport::builder("http://h:1/prefix/").build().unwrap();
        assert_eq!(t.base_url(), "http://h:1/prefix");
        let req = Request::get("/api/v1/intents/a b").query("q", "x&y").query("n", "1");
        assert_eq!(t.url_for(&req).as_str(), "http://h:1/prefix/api/v1/intents/a%20b?q=x%26y&n=1");
        let t = ReqwestTransport::builder("http://h:1").build().unwrap();
        assert_eq!(t.url_for(&Request::get("api/v1")).as_str(), "http://h:1/api/v1");
    }

    #[test]
    fn bad_header_values_are_rejected() {
        assert_eq!(
            ReqwestTransport::builder("http://h").api_key("a\nb").build().unwrap_err(),
            BuildError::InvalidApiKey
        );
        assert!(matches!(
            ReqwestTransport::builder("http://h").agent_id("a\rb").build().unwrap_err(),
            BuildError::InvalidAgentId(_)
        ));
        assert!(matches!(
            ReqwestTransport::builder("http://h").request_timeout(Duration::ZERO).build().unwrap_err(),
            BuildError::ZeroTimeout { field: "request_timeout" }
        ));
        let t = ReqwestTransport::builder("http://h").build().unwrap();
        let err = t.build_request(Request::get("/").header("x-bad", "a\nb"), "application/json").unwrap_err();
        assert_eq!(err.kind(), crate::TransportErrorKind::InvalidRequest);
        assert!(!err.may_have_been_sent());
    }

    #[test]
    fn debug_hides_the_key() {
        let b = ReqwestTransport::builder("http://h").api_key("sk-secret-1");
        assert!(!format!("{b:?}").contains("sk-secret-1"));
        let t = b.build().unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("sk-secret-1"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}

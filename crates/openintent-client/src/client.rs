//! The [`GenericClient`] (with its async form [`Client`]), its [`ClientBuilder`] and the
//! request plumbing shared by every area module.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
#[cfg(feature = "reqwest")]
use std::time::Duration;

use openintent_transport::sse::ReconnectConfig;
use openintent_transport::{Method, Request, Response, RetryConfig, RetryingTransport, Transport};
use openintent_types::validation::{Validate, require_text};
use openintent_types::wire::{ListBody, WireModel, to_superset_value};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::error::{ApiError, ConfigError, DecodeError, Error, Result};
use crate::mode::{Async, Mode};

/// The default number of attempts of [`Client::update_state_with`].
pub const DEFAULT_CONFLICT_ATTEMPTS: u32 = 5;

/// The environment variable holding the server URL, read by [`Client::from_env`].
pub const ENV_URL: &str = "OPENINTENT_URL";
/// The environment variable holding the API key, read by [`Client::from_env`].
pub const ENV_API_KEY: &str = "OPENINTENT_API_KEY";
/// The environment variable holding the agent id, read by [`Client::from_env`].
pub const ENV_AGENT_ID: &str = "OPENINTENT_AGENT_ID";

/// The async OpenIntent client: a [`GenericClient`] in the [`Async`] mode.
///
/// Cheap to clone (one `Arc`), `Send + Sync`, so it can be shared between tasks. Every call
/// sends `X-Agent-ID: <agent id>` and, when an API key is set, `X-API-Key`. The area modules
/// ([`intents`](crate::intents), [`leases`](crate::leases), ...) add the protocol methods.
///
/// ```no_run
/// use openintent_client::Client;
/// # async fn run() -> openintent_client::Result<()> {
/// let client = Client::builder()
///     .base_url("http://localhost:8000")
///     .api_key("dev-user-key")
///     .agent_id("my-agent")
///     .build()?;
/// let intent = client.create_intent("Research market trends").send().await?;
/// println!("{} v{}", intent.id, intent.version);
/// # Ok(()) }
/// ```
pub type Client = GenericClient<Async>;

/// An OpenIntent client in the mode `M`: [`Client`] (async) or
/// [`blocking::Client`](crate::blocking::Client).
///
/// Every protocol operation is defined once, here, for both modes; the mode only decides how
/// a call is driven (see [`Mode`]). Cheap to clone: one `Arc` (the blocking mode adds one for
/// its runtime). Write `Client` or `blocking::Client` in signatures; name `GenericClient<M>`
/// only in code meant for both (example: [`Mode`]).
#[derive(Clone)]
pub struct GenericClient<M: Mode = Async> {
    pub(crate) inner: Arc<ClientInner>,
    pub(crate) mode: M,
}

#[derive(Clone)]
pub(crate) struct ClientInner {
    pub(crate) options: CallOptions,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) agent_id: String,
    pub(crate) api_key: Option<SecretString>,
    pub(crate) base_url: Option<String>,
    pub(crate) conflict_attempts: u32,
    pub(crate) reconnect: ReconnectConfig,
}

impl<M: Mode> fmt::Debug for GenericClient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("mode", &self.mode)
            .field("base_url", &self.inner.base_url)
            .field("agent_id", &self.inner.agent_id)
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "<redacted>"))
            .field("transport", &self.inner.transport)
            .field("conflict_attempts", &self.inner.conflict_attempts)
            .finish()
    }
}

impl Client {
    /// A client for `base_url` over the bundled reqwest transport, wrapped in the retry layer
    /// ([`RetryConfig::default`]).
    ///
    /// ```no_run
    /// let client = openintent_client::Client::new("http://localhost:8000", "dev-user-key", "my-agent")?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, agent_id: impl Into<String>) -> Result<Client> {
        Client::builder().base_url(base_url).api_key(api_key).agent_id(agent_id).build()
    }

    /// A client configured from `OPENINTENT_URL`, `OPENINTENT_API_KEY` and
    /// `OPENINTENT_AGENT_ID`. A missing or empty variable is an [`Error::Config`] naming it.
    ///
    /// ```no_run
    /// let client = openintent_client::Client::from_env()?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn from_env() -> Result<Client> {
        Client::builder().from_env()?.build()
    }

    /// A builder for every setting: timeouts, retries, user agent, a custom transport...
    ///
    /// ```no_run
    /// use openintent_client::{Client, RetryConfig};
    /// let client = Client::builder()
    ///     .base_url("http://localhost:8000")
    ///     .api_key("dev-user-key")
    ///     .agent_id("my-agent")
    ///     .retry(RetryConfig::default().max_attempts(5))
    ///     .conflict_attempts(10)
    ///     .build()?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client over any [`Transport`], used as given (no retry layer is added; wrap it in
    /// [`RetryingTransport`] for that). The transport is responsible for authentication.
    ///
    /// ```
    /// use openintent_client::Client;
    /// use openintent_transport::test_util::MockTransport;
    /// let client = Client::from_transport(MockTransport::new(), "my-agent");
    /// assert_eq!(client.agent_id(), "my-agent");
    /// ```
    pub fn from_transport(transport: impl Transport, agent_id: impl Into<String>) -> Client {
        Client::from_parts(Arc::new(transport), agent_id.into(), None, None)
    }

    pub(crate) fn from_parts(
        transport: Arc<dyn Transport>,
        agent_id: String,
        api_key: Option<SecretString>,
        base_url: Option<String>,
    ) -> Client {
        Client {
            inner: Arc::new(ClientInner {
                options: CallOptions::default(),
                transport,
                agent_id,
                api_key,
                base_url,
                conflict_attempts: DEFAULT_CONFLICT_ATTEMPTS,
                reconnect: ReconnectConfig::default(),
            }),
            mode: Async,
        }
    }

    /// The same client in another mode (the blocking client is made this way).
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn into_mode<N: Mode>(self, mode: N) -> GenericClient<N> {
        GenericClient { inner: self.inner, mode }
    }
}

impl<M: Mode> GenericClient<M> {
    /// The async client sharing this client's transport and settings: `self` for a
    /// [`Client`], the client underneath for a [`blocking::Client`](crate::blocking::Client).
    /// Its calls are futures, for async code.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let async_client: openintent_client::Client = client.as_async();
    /// let read_back = async move { async_client.get_intent("7f1c…").await };
    /// # drop(read_back);
    /// # Ok(()) }
    /// ```
    pub fn as_async(&self) -> Client {
        GenericClient { inner: self.inner.clone(), mode: Async }
    }

    /// Runs `op` on the async client underneath, driven as this client's mode drives calls:
    /// the body of every call that has no builder.
    pub(crate) fn call<T, Fut>(&self, op: impl FnOnce(Client) -> Fut) -> M::Call<T>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        self.mode.call(op(self.as_async()))
    }

    /// A handle sharing this client's transport and settings whose calls all use `options`
    /// (timeout, retry mode, extra headers such as an idempotency key).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use openintent_client::{CallOptions, RetryMode};
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let patient = client.with_options(CallOptions::new().timeout(Duration::from_secs(120)));
    /// let report = patient.get_intent("7f1c…").await?;
    /// let once = client.with_options(
    ///     CallOptions::new().retry(RetryMode::Always).header("Idempotency-Key", "create-42"),
    /// );
    /// once.create_intent("Exactly once").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(&self, options: CallOptions) -> GenericClient<M> {
        let mut inner = (*self.inner).clone();
        inner.options = options;
        GenericClient { inner: Arc::new(inner), mode: self.mode.clone() }
    }

    /// The call options of this handle.
    ///
    /// ```
    /// use std::time::Duration;
    /// use openintent_client::CallOptions;
    /// # use openintent_transport::test_util::MockTransport;
    /// # let client = openintent_client::Client::from_transport(MockTransport::new(), "my-agent");
    /// assert_eq!(client.options(), &CallOptions::default());
    /// let patient = client.with_options(CallOptions::new().timeout(Duration::from_secs(120)));
    /// assert_eq!(patient.options(), &CallOptions::new().timeout(Duration::from_secs(120)));
    /// ```
    pub fn options(&self) -> &CallOptions {
        &self.inner.options
    }

    /// The agent id sent as `X-Agent-ID` and used for identity fields (`actor`, `created_by`,
    /// `requested_by`, `decided_by`, cost and failure `agent_id`).
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # let client = openintent_client::Client::from_transport(MockTransport::new(), "my-agent");
    /// assert_eq!(client.agent_id(), "my-agent");
    /// ```
    pub fn agent_id(&self) -> &str {
        &self.inner.agent_id
    }

    /// The server URL, when the client was built with one.
    ///
    /// ```
    /// # fn main() -> openintent_client::Result<()> {
    /// let client = openintent_client::Client::builder()
    ///     .base_url("http://127.0.0.1:8000")
    ///     .agent_id("my-agent")
    ///     .build()?;
    /// assert_eq!(client.base_url(), Some("http://127.0.0.1:8000"));
    ///
    /// // A client over a transport of your own has no URL.
    /// # use openintent_transport::test_util::MockTransport;
    /// let mocked = openintent_client::Client::from_transport(MockTransport::new(), "my-agent");
    /// assert_eq!(mocked.base_url(), None);
    /// # Ok(()) }
    /// ```
    pub fn base_url(&self) -> Option<&str> {
        self.inner.base_url.as_deref()
    }

    /// The transport requests go through.
    ///
    /// ```
    /// use openintent_transport::test_util::MockTransport;
    /// use openintent_transport::{Request, Response};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push(Response::new(204));
    /// let client = openintent_client::Client::from_transport(mock.clone(), "my-agent");
    /// // Straight to the transport: no identity headers, no error mapping.
    /// let resp = client.transport().send(Request::get("/healthz")).await.unwrap();
    /// assert_eq!(resp.status, 204);
    /// assert_eq!(mock.requests()[0].headers.get("x-agent-id"), None);
    /// # }
    /// ```
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.transport
    }

    /// Escape hatch: sends any request with the client's identity headers (`X-Agent-ID`,
    /// `X-API-Key`) and returns the response whatever its status.
    ///
    /// ```no_run
    /// use openintent_transport::Request;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let resp = client.send_raw(Request::get("/api/v1/server/config")).await?;
    /// println!("{} {}", resp.status, resp.text());
    /// # Ok(()) }
    /// ```
    pub fn send_raw(&self, request: Request) -> M::Call<Response> {
        self.call(|c| async move {
            let request = c.decorate(request);
            Ok(c.inner.transport.send(request).await?)
        })
    }

    /// Escape hatch: sends any request with the client's identity headers, maps a non-2xx
    /// status to [`Error::Api`] and decodes the body (use `serde_json::Value` for anything).
    ///
    /// ```no_run
    /// use openintent_transport::Request;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let children: serde_json::Value =
    ///     client.request_json(Request::get("/api/v1/intents/some-id/children")).await?;
    /// # Ok(()) }
    /// ```
    pub fn request_json<T: DeserializeOwned + Send + 'static>(&self, request: Request) -> M::Call<T> {
        self.call(|c| async move { c.json(request).await })
    }
}

/// The plumbing shared by the area modules: the same in every mode, used inside the futures.
impl<M: Mode> GenericClient<M> {
    pub(crate) fn decorate(&self, mut request: Request) -> Request {
        let opts = &self.inner.options;
        if request.timeout.is_none() {
            request.timeout = opts.timeout;
        }
        if let Some(mode) = opts.retry {
            request.retry = mode;
        }
        for (name, value) in &opts.headers {
            if !request.headers.contains(name) {
                request.headers.insert(name.clone(), value.clone());
            }
        }
        if !request.headers.contains("x-agent-id") {
            request.headers.insert("X-Agent-ID", self.inner.agent_id.clone());
        }
        if let Some(key) = &self.inner.api_key
            && !request.headers.contains("x-api-key")
        {
            request.headers.insert("X-API-Key", key.expose_secret());
        }
        request
    }

    /// Sends and maps non-2xx statuses to [`Error::Api`].
    pub(crate) async fn execute(&self, request: Request) -> Result<Response> {
        let request = self.decorate(request);
        let method = request.method;
        let path = request.path.clone();
        let span = tracing::debug_span!("openintent.call", %method, path = %path);
        let resp = self.inner.transport.send(request).instrument(span).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            let err = ApiError::from_response(method, &path, &resp);
            tracing::debug!(status = err.status(), error = %err, "call failed");
            Err(Error::Api(err))
        }
    }

    pub(crate) async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let method = request.method;
        let path = request.path.clone();
        let resp = self.execute(request).await?;
        decode(method, &path, &resp)
    }

    /// Sends and ignores the body (for deletes and acknowledgements).
    pub(crate) async fn empty(&self, request: Request) -> Result<()> {
        self.execute(request).await.map(drop)
    }

    pub(crate) async fn list<T: DeserializeOwned>(&self, request: Request) -> Result<List<T>> {
        let method = request.method;
        let path = request.path.clone();
        let resp = self.execute(request).await?;
        decode_list(method, &path, &resp)
    }

    /// Builds a request with a validated JSON body in its superset wire form.
    pub(crate) fn with_body<B: Serialize + WireModel + Validate>(request: Request, body: &B) -> Result<Request> {
        body.validate()?;
        let value = to_superset_value(body);
        let bytes = serde_json::to_vec(&value).map_err(|e| ConfigError::new(format!("unserializable body: {e}")))?;
        Ok(request.json_body(bytes))
    }
}

/// Settings applied to every call of a handle made by [`Client::with_options`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// Overrides the transport's request timeout (per attempt; streams are exempt).
    pub timeout: Option<std::time::Duration>,
    /// Whether the retry layer may repeat the calls (default: when safe).
    pub retry: Option<openintent_transport::RetryMode>,
    /// Extra headers, added unless a call sets the same name.
    pub headers: Vec<(String, String)>,
}

impl CallOptions {
    /// No overrides.
    ///
    /// Example: [`Client::with_options`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the timeout.
    ///
    /// Example: [`Client::with_options`].
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry mode.
    ///
    /// Example: [`Client::with_options`].
    pub fn retry(mut self, mode: openintent_transport::RetryMode) -> Self {
        self.retry = Some(mode);
        self
    }

    /// Adds a header.
    ///
    /// Example: [`Client::with_options`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A decoded list: the items plus the envelope's other keys.
pub(crate) struct List<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: Option<u64>,
    pub(crate) extra: Map<String, Value>,
}

pub(crate) fn decode<T: DeserializeOwned>(method: Method, path: &str, resp: &Response) -> Result<T> {
    let body: &[u8] = if resp.body.iter().all(u8::is_ascii_whitespace) { b"null" } else { &resp.body };
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let json_path = e.path().to_string();
        Error::Decode(DecodeError::new(method, path, resp.status, json_path, &resp.body, e.into_inner()))
    })
}

pub(crate) fn decode_list<T: DeserializeOwned>(method: Method, path: &str, resp: &Response) -> Result<List<T>> {
    let raw: ListBody<Value> = decode(method, path, resp)?;
    let mut items = Vec::with_capacity(raw.items.len());
    for (i, item) in raw.items.into_iter().enumerate() {
        let decoded = serde_path_to_error::deserialize::<_, T>(item).map_err(|e| {
            let inner = e.path().to_string();
            let json_path = if inner == "." { format!("[{i}]") } else { format!("[{i}].{inner}") };
            Error::Decode(DecodeError::new(method, path, resp.status, json_path, &resp.body, e.into_inner()))
        })?;
        items.push(decoded);
    }
    Ok(List { items, total: raw.total, extra: raw.extra })
}

/// Checks an id used in a path and percent-encodes it as one path segment.
pub(crate) fn seg(field: &str, id: &str) -> Result<String> {
    require_text(field, id)?;
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// `/api/v1/intents/{id}` plus a suffix.
pub(crate) fn intent_path(intent_id: &str, suffix: &str) -> Result<String> {
    Ok(format!("/api/v1/intents/{}{suffix}", seg("intent_id", intent_id)?))
}

/// Turns a JSON value given to a setter into an object, naming the field when it is not one.
pub(crate) fn object(field: &str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(Error::Invalid(openintent_types::InputValidationError::new(
            field,
            format!("{field} must be a JSON object, got {}", json_kind(&other)),
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds a [`Client`] with explicit settings. See [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<SecretString>,
    agent_id: Option<String>,
    #[cfg(feature = "reqwest")]
    connect_timeout: Option<Duration>,
    #[cfg(feature = "reqwest")]
    request_timeout: Option<Duration>,
    #[cfg(feature = "reqwest")]
    user_agent: Option<String>,
    retry: RetryConfig,
    transport: Option<Arc<dyn Transport>>,
    conflict_attempts: u32,
    reconnect: ReconnectConfig,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: None,
            api_key: None,
            agent_id: None,
            #[cfg(feature = "reqwest")]
            connect_timeout: None,
            #[cfg(feature = "reqwest")]
            request_timeout: None,
            #[cfg(feature = "reqwest")]
            user_agent: None,
            retry: RetryConfig::default(),
            transport: None,
            conflict_attempts: DEFAULT_CONFLICT_ATTEMPTS,
            reconnect: ReconnectConfig::default(),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("agent_id", &self.agent_id)
            .field("retry", &self.retry)
            .field("transport", &self.transport)
            .field("conflict_attempts", &self.conflict_attempts)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The server URL, e.g. `http://localhost:8000` (required unless a transport is given).
    ///
    /// Example: [`Client::builder`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key sent as `X-API-Key` (kept in a `SecretString`, redacted in `Debug`).
    ///
    /// Example: [`Client::builder`].
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// The agent id (required).
    ///
    /// Example: [`Client::builder`].
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Reads `OPENINTENT_URL`, `OPENINTENT_API_KEY` and `OPENINTENT_AGENT_ID`; a missing or
    /// empty variable is an error naming it.
    ///
    /// Example: [`Client::builder`].
    pub fn from_env(self) -> Result<Self> {
        fn var(name: &str) -> Result<String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(v),
                Ok(_) => Err(ConfigError::new(format!("environment variable {name} is empty")).into()),
                Err(_) => Err(ConfigError::new(format!("environment variable {name} is not set")).into()),
            }
        }
        Ok(self.base_url(var(ENV_URL)?).api_key(var(ENV_API_KEY)?).agent_id(var(ENV_AGENT_ID)?))
    }

    /// Time allowed to connect (reqwest transport; default 10 s).
    ///
    /// Example: [`Client::builder`].
    #[cfg(feature = "reqwest")]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for a whole call, per attempt (reqwest transport; default 30 s; streams
    /// are exempt).
    ///
    /// Example: [`Client::builder`].
    #[cfg(feature = "reqwest")]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The `User-Agent` (reqwest transport; default `openintent-rs/<version>`).
    ///
    /// Example: [`Client::builder`].
    #[cfg(feature = "reqwest")]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The HTTP retry settings of the retry layer (see the crate docs, "Where retries happen").
    ///
    /// Example: [`Client::builder`].
    pub fn retry(mut self, config: RetryConfig) -> Self {
        self.retry = config;
        self
    }

    /// Disables HTTP retries.
    ///
    /// Example: [`Client::builder`].
    pub fn no_retry(self) -> Self {
        self.retry(RetryConfig::disabled())
    }

    /// Uses this transport instead of reqwest; it is still wrapped in the retry layer.
    ///
    /// Example: [`Client::builder`].
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Attempts of [`Client::update_state_with`] before a version conflict is returned
    /// (default 5, at least 1).
    pub fn conflict_attempts(mut self, attempts: u32) -> Self {
        self.conflict_attempts = attempts.max(1);
        self
    }

    /// How event streams reconnect.
    ///
    /// Example: [`Client::builder`].
    pub fn stream_reconnect(mut self, config: ReconnectConfig) -> Self {
        self.reconnect = config;
        self
    }

    /// Creates the client.
    ///
    /// Example: [`Client::builder`].
    pub fn build(self) -> Result<Client> {
        let agent_id =
            self.agent_id.clone().filter(|a| !a.trim().is_empty()).ok_or_else(|| {
                ConfigError::new("agent_id is required (set it with .agent_id() or OPENINTENT_AGENT_ID)")
            })?;
        let base: Arc<dyn Transport> = match self.transport.clone() {
            Some(t) => t,
            None => self.reqwest_transport()?,
        };
        let transport: Arc<dyn Transport> = Arc::new(RetryingTransport::new(base, self.retry.clone()));
        let mut client = Client::from_parts(transport, agent_id, self.api_key, self.base_url);
        let inner = Arc::get_mut(&mut client.inner).expect("fresh client");
        inner.conflict_attempts = self.conflict_attempts;
        inner.reconnect = self.reconnect;
        Ok(client)
    }

    #[cfg(feature = "reqwest")]
    fn reqwest_transport(&self) -> Result<Arc<dyn Transport>> {
        let url = self
            .base_url
            .clone()
            .ok_or_else(|| ConfigError::new("base_url is required (set it with .base_url() or OPENINTENT_URL)"))?;
        let mut b = openintent_transport::ReqwestTransport::builder(url);
        if let Some(t) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(t) = self.request_timeout {
            b = b.request_timeout(t);
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua.clone());
        }
        let t = b.build().map_err(|e| ConfigError::new(e.to_string()))?;
        Ok(Arc::new(t))
    }

    #[cfg(not(feature = "reqwest"))]
    fn reqwest_transport(&self) -> Result<Arc<dyn Transport>> {
        Err(ConfigError::new("no transport: enable the `reqwest` feature or call .transport()").into())
    }
}

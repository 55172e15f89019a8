//! Retry policies and failure records (RFC-0010). Not to be confused with the HTTP retries of
//! the client itself ([`RetryConfig`](crate::RetryConfig)).
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `set_retry_policy(id, max_attempts, base_delay_seconds, max_delay_seconds, backoff_multiplier, retryable_errors)` | [`Client::set_retry_policy`] | `PUT …/retry-policy` (`strategy`, `max_retries`, `*_ms`) |
//! | — | [`Client::set_retry_policy_wire`] ([`SetRetryPolicyRequest`]) | `PUT …/retry-policy` |
//! | `get_retry_policy(id)` | [`Client::get_retry_policy`] (`None` when none is set) | `GET …/retry-policy` |
//! | `record_failure(id, error_type, error_message, attempt, will_retry)` | [`Client::record_failure`] | `POST …/failures` (`attempt_number`; `error_type` also as `error_code`) |
//! | `get_failures(id)` | [`Client::get_failures`] | `GET …/failures` |
//!
//! The seed's vocabulary maps to the wire as DIVERGENCES.md D63 says: `max_retries =
//! max_attempts`, delays in milliseconds, strategy `fixed` when the multiplier is 1 and
//! `exponential` otherwise (override with [`SetRetryPolicy::strategy`]); the multiplier and the
//! retryable errors are sent too, for servers that keep them.

use chrono::{DateTime, Utc};
use openintent_transport::Request;
use openintent_types::{FailureRecord, RecordFailureRequest, RetryPolicy, RetryStrategy, SetRetryPolicyRequest};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object};
use crate::error::{ApiErrorKind, Error, Result};
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Sets the retry policy (`PUT …/retry-policy`, a full replacement) from the seed's
    /// parameters; unset ones take the seed's defaults (3 attempts, 1 s base delay, 60 s
    /// cap, multiplier 2).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let policy = client
    ///     .set_retry_policy("7f1c…")
    ///     .max_attempts(5)
    ///     .base_delay_seconds(1.0)
    ///     .max_delay_seconds(60.0)
    ///     .backoff_multiplier(2.0)
    ///     .retryable_errors(["timeout", "rate_limit", "temporary_failure"])
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn set_retry_policy(&self, intent_id: &str) -> SetRetryPolicy<M> {
        SetRetryPolicy {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            max_attempts: 3,
            base_delay_seconds: 1.0,
            max_delay_seconds: 60.0,
            backoff_multiplier: 2.0,
            retryable_errors: None,
            strategy: None,
            jitter: None,
            fallback_agent_id: None,
            failure_threshold: None,
        }
    }

    /// Sets the retry policy from the wire form.
    ///
    /// ```no_run
    /// use openintent_types::SetRetryPolicyRequest;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut req = SetRetryPolicyRequest::new("linear");
    /// req.max_retries = 4;
    /// let policy = client.set_retry_policy_wire("7f1c…", req).await?;
    /// # Ok(()) }
    /// ```
    pub fn set_retry_policy_wire(&self, intent_id: &str, request: SetRetryPolicyRequest) -> M::Call<RetryPolicy> {
        let path = intent_path(intent_id, "/retry-policy");
        self.call(|c| async move {
            let req = Client::with_body(Request::put(path?), &request)?;
            let mut p: RetryPolicy = c.json(req).await?;
            p.backoff_multiplier = p.backoff_multiplier.or(request.backoff_multiplier);
            p.retryable_errors = p.retryable_errors.or(request.retryable_errors);
            p.fallback_agent_id = p.fallback_agent_id.or(request.fallback_agent_id);
            p.failure_threshold = p.failure_threshold.or(request.failure_threshold);
            Ok(p)
        })
    }

    /// The retry policy of an intent, or `None` when none is set (the server's 404
    /// `No retry policy set`). Other errors, including a 404 for a missing intent on servers
    /// that distinguish it, are returned.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// match client.get_retry_policy("7f1c…").await? {
    ///     Some(p) => println!("{} up to {} retries", p.strategy, p.max_retries),
    ///     None => println!("no policy"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_retry_policy(&self, intent_id: &str) -> M::Call<Option<RetryPolicy>> {
        let path = intent_path(intent_id, "/retry-policy");
        self.call(|c| async move {
            match c.json(Request::get(path?)).await {
                Ok(p) => Ok(Some(p)),
                Err(Error::Api(e))
                    if *e.kind() == ApiErrorKind::NotFound
                        && e.message().to_ascii_lowercase().contains("retry policy") =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
    }

    /// Records a failed attempt (`POST …/failures`); `attempt` defaults to 1 and `agent_id`
    /// to this client's.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client
    ///     .record_failure("7f1c…", "rate_limit", "API rate limit exceeded")
    ///     .attempt(1)
    ///     .will_retry(true)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn record_failure(
        &self,
        intent_id: &str,
        error_type: impl Into<String>,
        error_message: impl Into<String>,
    ) -> RecordFailure<M> {
        RecordFailure {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: RecordFailureRequest::new(error_type, error_message, 1),
            metadata: None,
        }
    }

    /// The failure history of an intent (`GET …/failures`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for f in client.get_failures("7f1c…").await? {
    ///     println!("attempt {}: {}", f.attempt_number, f.error_message);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_failures(&self, intent_id: &str) -> M::Call<Vec<FailureRecord>> {
        let path = intent_path(intent_id, "/failures");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }
}

/// Builder of [`Client::set_retry_policy`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct SetRetryPolicy<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    max_attempts: i64,
    base_delay_seconds: f64,
    max_delay_seconds: f64,
    backoff_multiplier: f64,
    retryable_errors: Option<Vec<String>>,
    strategy: Option<RetryStrategy>,
    jitter: Option<bool>,
    fallback_agent_id: Option<String>,
    failure_threshold: Option<i64>,
}

impl<M: Mode> SetRetryPolicy<M> {
    /// Retries after the first attempt (sent as `max_retries`; default 3).
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn max_attempts(mut self, n: i64) -> Self {
        self.max_attempts = n;
        self
    }

    /// First delay in seconds (sent as `base_delay_ms`; default 1.0).
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn base_delay_seconds(mut self, s: f64) -> Self {
        self.base_delay_seconds = s;
        self
    }

    /// Delay cap in seconds (sent as `max_delay_ms`; default 60.0).
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn max_delay_seconds(mut self, s: f64) -> Self {
        self.max_delay_seconds = s;
        self
    }

    /// Growth factor (default 2.0; 1.0 selects the `fixed` strategy).
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn backoff_multiplier(mut self, m: f64) -> Self {
        self.backoff_multiplier = m;
        self
    }

    /// Error types worth retrying (default: all).
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn retryable_errors<I, S>(mut self, errors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.retryable_errors = Some(errors.into_iter().map(Into::into).collect());
        self
    }

    /// The strategy, instead of the one derived from the multiplier.
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn strategy(mut self, strategy: impl Into<RetryStrategy>) -> Self {
        self.strategy = Some(strategy.into());
        self
    }

    /// Whether delays are randomized.
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// The agent to hand over to when retries run out.
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn fallback_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.fallback_agent_id = Some(agent_id.into());
        self
    }

    /// Failures before the fallback.
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn failure_threshold(mut self, n: i64) -> Self {
        self.failure_threshold = Some(n);
        self
    }

    /// The wire request this builder sends.
    ///
    /// Example: [`Client::set_retry_policy`].
    pub fn to_request(&self) -> SetRetryPolicyRequest {
        let mut req = SetRetryPolicyRequest::from_seed(
            self.max_attempts,
            self.base_delay_seconds,
            self.max_delay_seconds,
            self.backoff_multiplier,
            self.retryable_errors.clone().unwrap_or_default(),
        );
        req.retryable_errors = self.retryable_errors.clone();
        if let Some(s) = &self.strategy {
            req.strategy = s.clone();
        }
        req.jitter = self.jitter;
        req.fallback_agent_id = self.fallback_agent_id.clone();
        req.failure_threshold = self.failure_threshold;
        req
    }

    async fn run(self) -> Result<RetryPolicy> {
        let req = self.to_request();
        self.client.as_async().set_retry_policy_wire(&self.intent_id, req).await
    }
}
impl_send!(SetRetryPolicy, RetryPolicy, "set_retry_policy");

/// Builder of [`Client::record_failure`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RecordFailure<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: RecordFailureRequest,
    metadata: Option<Value>,
}

impl<M: Mode> RecordFailure<M> {
    /// The attempt number, 1-based (sent as `attempt_number`; default 1).
    ///
    /// Example: [`Client::record_failure`].
    pub fn attempt(mut self, attempt: i64) -> Self {
        self.req.attempt_number = attempt;
        self
    }

    /// Whether another attempt is planned.
    ///
    /// Example: [`Client::record_failure`].
    pub fn will_retry(mut self, will_retry: bool) -> Self {
        self.req.will_retry = Some(will_retry);
        self
    }

    /// When the next attempt is planned.
    ///
    /// Example: [`Client::record_failure`].
    pub fn retry_scheduled_at(mut self, at: DateTime<Utc>) -> Self {
        self.req.retry_scheduled_at = Some(at);
        self
    }

    /// The failing agent (default: the agent id).
    ///
    /// Example: [`Client::record_failure`].
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.req.agent_id = Some(agent_id.into());
        self
    }

    /// Extra data (a JSON object).
    ///
    /// Example: [`Client::record_failure`].
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    async fn run(self) -> Result<FailureRecord> {
        let mut req = self.req;
        if let Some(m) = self.metadata {
            req.metadata = Some(object("metadata", m)?);
        }
        req.agent_id.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/failures")?), &req)?;
        let mut f: FailureRecord = self.client.json(request).await?;
        f.will_retry = f.will_retry.or(req.will_retry);
        Ok(f)
    }
}
impl_send!(RecordFailure, FailureRecord, "record_failure");

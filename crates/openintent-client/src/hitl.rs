//! Human-in-the-loop suspension (RFC-0025/0026): an agent asks a human and waits for the answer.
//!
//! | 0.17 SDK | Rust | Wire |
//! |---|---|---|
//! | `BaseAgent.request_input(id, question, …)` (status + state + event writes, then polling) | [`Client::suspend`], then [`Client::wait_for_input`] | `POST …/suspend` (`If-Match`), then `GET …/{id}` |
//! | — (operator side; the SDK has no method) | [`Client::respond_to_suspension`] | `POST …/suspend/respond` |
//! | reading `state._suspension` | [`Client::get_suspension`] | `GET …/{id}` |
//!
//! `POST …/suspend` writes the status, the `_suspension` record and the `intent.suspended` event
//! in one version-checked write; the reference server lacks it ([`unsupported`](crate::Error::is_unsupported)),
//! where an agent writes the three itself with [`Client::set_status`], [`Client::update_state`]
//! and [`Client::log_event`]. The reference also loses the answer it accepts (its stored record
//! keeps no `resolution`); [`Client::wait_for_input`] then takes the answer from the
//! `intent.resumed` event.

use std::time::Duration;

use openintent_transport::Request;
use openintent_types::{
    EventType, FallbackPolicy, HumanRetryPolicy, InputResponse, Intent, IntentStatus, RespondToSuspensionRequest,
    ResponseType, SuspendRequest, SuspensionChoice, SuspensionRecord, SuspensionResolution,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

/// How long [`Client::wait_for_input`] waits between two reads (the 0.17 SDK polls every 2 s).
pub const DEFAULT_INPUT_POLL: Duration = Duration::from_secs(2);

/// How a suspension ended, as [`Client::wait_for_input`] saw it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InputOutcome {
    /// A human answered with this value.
    Responded(Value),
    /// Nobody answered in time; the server applied the fallback policy (`value` is the
    /// fallback value for the continuing policies, `None` for `fail`).
    Expired {
        /// The fallback value, if the policy continues with one.
        value: Option<Value>,
        /// The intent's status after the expiry (`abandoned` for `fail`, else `active`).
        status: IntentStatus,
    },
    /// The suspension was withdrawn, or ended without an answer (the intent left
    /// `suspended_awaiting_input` otherwise).
    Cancelled,
    /// Still unanswered when `max_wait` ran out (the suspension goes on).
    StillWaiting,
}

impl<M: Mode> GenericClient<M> {
    /// Suspends the intent with a question (`POST …/suspend`, `If-Match: version`); the answer
    /// is the intent, its `_suspension` state record holding the suspension id.
    ///
    /// ```no_run
    /// use openintent_client::types::SuspensionChoice;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client
    ///     .suspend("7f1c…", 3, "Refund order 12345?")
    ///     .choice(SuspensionChoice::new("approve", "Approve refund"))
    ///     .choice(SuspensionChoice::new("deny", "Deny refund"))
    ///     .timeout_seconds(3600)
    ///     .fallback_value("deny")
    ///     .send()
    ///     .await?;
    /// let suspension_id = openintent_client::hitl::suspension_of(&intent).map(|s| s.id);
    /// # Ok(()) }
    /// ```
    pub fn suspend(&self, intent_id: &str, version: i64, question: impl Into<String>) -> Suspend<M> {
        Suspend {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            version,
            req: SuspendRequest::new(question),
            context: None,
        }
    }

    /// Answers the intent's suspension (`POST …/suspend/respond`); `responded_by` defaults to
    /// the caller on the server.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let answer = client
    ///     .respond_to_suspension("7f1c…", "5b2e…", "approve")
    ///     .responded_by("alice@example.com")
    ///     .send()
    ///     .await?;
    /// println!("{:?}", answer.choice_label);
    /// # Ok(()) }
    /// ```
    pub fn respond_to_suspension(
        &self,
        intent_id: &str,
        suspension_id: impl Into<String>,
        value: impl Into<Value>,
    ) -> Respond<M> {
        Respond {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: RespondToSuspensionRequest::new(suspension_id, value),
            metadata: None,
        }
    }

    /// The intent's suspension record (`state._suspension`), if any.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// if let Some(s) = client.get_suspension("7f1c…").await? {
    ///     println!("{} asks: {}", s.id, s.question);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_suspension(&self, intent_id: &str) -> M::Call<Option<SuspensionRecord>> {
        let intent_id = intent_id.to_owned();
        self.call(|c| async move { Ok(suspension_of(&c.get_intent(&intent_id).await?)) })
    }

    /// Waits until the suspension `suspension_id` ends, reading the intent every `poll`, for at
    /// most `max_wait` (then [`InputOutcome::StillWaiting`]). The answer is read from the stored record, or
    /// (on servers that lose it) from the `intent.resumed` event of that suspension.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use openintent_client::hitl::{DEFAULT_INPUT_POLL, InputOutcome};
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// match client.wait_for_input("7f1c…", "5b2e…", DEFAULT_INPUT_POLL, Duration::from_secs(600)).await? {
    ///     InputOutcome::Responded(value) => println!("answer: {value}"),
    ///     InputOutcome::Expired { value, .. } => println!("fallback: {value:?}"),
    ///     other => println!("ended: {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_for_input(
        &self,
        intent_id: &str,
        suspension_id: &str,
        poll: Duration,
        max_wait: Duration,
    ) -> M::Call<InputOutcome> {
        let (intent_id, suspension_id) = (intent_id.to_owned(), suspension_id.to_owned());
        self.call(move |c| async move {
            let deadline = tokio::time::Instant::now() + max_wait;
            loop {
                let intent = c.get_intent(&intent_id).await?;
                if let Some(outcome) = outcome_of(&c, &intent, &suspension_id).await? {
                    return Ok(outcome);
                }
                if tokio::time::Instant::now() + poll > deadline {
                    return Ok(InputOutcome::StillWaiting);
                }
                tokio::time::sleep(poll).await;
            }
        })
    }
}

/// The suspension record of an intent (`state._suspension`), if it holds a readable one.
///
/// ```
/// use openintent_client::types::Intent;
/// let mut intent = Intent::new("i-1", "t");
/// intent.state.insert("_suspension".into(), serde_json::json!({"id": "s-1", "question": "ok?"}));
/// assert_eq!(openintent_client::hitl::suspension_of(&intent).unwrap().id, "s-1");
/// ```
pub fn suspension_of(intent: &Intent) -> Option<SuspensionRecord> {
    SuspensionRecord::from_state(&intent.state).and_then(|r| r.ok())
}

async fn outcome_of(c: &Client, intent: &Intent, suspension_id: &str) -> Result<Option<InputOutcome>> {
    let record = suspension_of(intent).filter(|r| r.id == suspension_id);
    match record.as_ref().and_then(|r| r.resolution.clone()) {
        Some(SuspensionResolution::Responded) => {
            return Ok(Some(InputOutcome::Responded(record.and_then(|r| r.response).unwrap_or(Value::Null))));
        }
        Some(SuspensionResolution::Expired) => {
            let value = record.and_then(|r| r.response);
            return Ok(Some(InputOutcome::Expired { value, status: intent.status.clone() }));
        }
        Some(_) => return Ok(Some(InputOutcome::Cancelled)),
        None => {}
    }
    if intent.status == IntentStatus::SuspendedAwaitingInput {
        return Ok(None);
    }
    // Resumed, but the record says nothing: the answer is in the `intent.resumed` event.
    let events = c.all_events(&intent.id).await?;
    let resumed = events.iter().find(|e| {
        e.event_type == EventType::IntentResumed
            && e.payload.get("suspension_id").and_then(Value::as_str) == Some(suspension_id)
    });
    Ok(Some(match resumed {
        Some(e) => InputOutcome::Responded(e.payload.get("value").cloned().unwrap_or(Value::Null)),
        None => InputOutcome::Cancelled,
    }))
}

/// Builder of [`Client::suspend`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct Suspend<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    version: i64,
    req: SuspendRequest,
    context: Option<Value>,
}

impl<M: Mode> Suspend<M> {
    /// The kind of answer (default `choice`, which needs choices).
    ///
    /// Example: [`Client::suspend`].
    pub fn response_type(mut self, response_type: impl Into<ResponseType>) -> Self {
        self.req.response_type = Some(response_type.into());
        self
    }

    /// Adds a choice.
    ///
    /// Example: [`Client::suspend`].
    pub fn choice(mut self, choice: SuspensionChoice) -> Self {
        self.req.choices.push(choice);
        self
    }

    /// Context for the operator (a JSON object).
    ///
    /// Example: [`Client::suspend`].
    pub fn context(mut self, context: impl Into<Value>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The preferred channel (`slack`, `email`).
    ///
    /// Example: [`Client::suspend`].
    pub fn channel_hint(mut self, channel: impl Into<String>) -> Self {
        self.req.channel_hint = Some(channel.into());
        self
    }

    /// Seconds the operator has; the server applies the fallback policy afterwards.
    ///
    /// Example: [`Client::suspend`].
    pub fn timeout_seconds(mut self, seconds: i64) -> Self {
        self.req.timeout_seconds = Some(seconds);
        self
    }

    /// What happens on timeout (default `fail`, which abandons the intent).
    ///
    /// Example: [`Client::suspend`].
    pub fn fallback_policy(mut self, policy: impl Into<FallbackPolicy>) -> Self {
        self.req.fallback_policy = Some(policy.into());
        self
    }

    /// The value a continuing fallback policy resumes with (one of the choices, if any).
    ///
    /// Example: [`Client::suspend`].
    pub fn fallback_value(mut self, value: impl Into<Value>) -> Self {
        self.req.fallback_value = Some(value.into());
        self
    }

    /// Re-notification and escalation (RFC-0026).
    ///
    /// Example: [`Client::suspend`].
    pub fn retry_policy(mut self, policy: HumanRetryPolicy) -> Self {
        self.req.retry_policy = Some(policy);
        self
    }

    /// The agent's confidence, in [0, 1].
    ///
    /// Example: [`Client::suspend`].
    pub fn confidence(mut self, confidence: f64) -> Self {
        self.req.confidence = Some(confidence);
        self
    }

    async fn run(self) -> Result<Intent> {
        let mut req = self.req;
        if let Some(c) = self.context {
            req.context = Some(object("context", c)?);
        }
        let request =
            Request::post(intent_path(&self.intent_id, "/suspend")?).header("If-Match", self.version.to_string());
        self.client.json(Client::with_body(request, &req)?).await
    }
}
impl_send!(Suspend, Intent, "suspend");

/// Builder of [`Client::respond_to_suspension`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct Respond<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: RespondToSuspensionRequest,
    metadata: Option<Value>,
}

impl<M: Mode> Respond<M> {
    /// Who answers (default: the caller).
    ///
    /// Example: [`Client::respond_to_suspension`].
    pub fn responded_by(mut self, who: impl Into<String>) -> Self {
        self.req.responded_by = Some(who.into());
        self
    }

    /// Channel metadata (a JSON object).
    ///
    /// Example: [`Client::respond_to_suspension`].
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    async fn run(self) -> Result<InputResponse> {
        let mut req = self.req;
        if let Some(m) = self.metadata {
            req.metadata = Some(object("metadata", m)?);
        }
        let path = intent_path(&self.intent_id, "/suspend/respond")?;
        let mut answer: InputResponse = self.client.json(Client::with_body(Request::post(path), &req)?).await?;
        if answer.intent_id.is_empty() {
            answer.intent_id = self.intent_id;
        }
        Ok(answer)
    }
}
impl_send!(Respond, InputResponse, "respond_to_suspension");

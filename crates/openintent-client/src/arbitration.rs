//! Arbitration and decisions (RFC-0003/0004).
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `request_arbitration(id, reason)` | [`Client::request_arbitration`] | `POST …/arbitrate` (`requested_by` = agent id) |
//! | `record_decision(id, decision, rationale)` | [`Client::record_decision`] | `POST …/decisions` (`outcome` = decision, `decided_by` = agent id, `decision_type` = `decision`) |
//! | `get_decisions(id)` | [`Client::get_decisions`] | `GET …/events`, the `decision_recorded` events |
//!
//! The reference server acknowledges arbitration and decisions with short bodies; the
//! returned values are completed from the request (intent, reason, decided_by, ...).

use openintent_transport::Request;
use openintent_types::{Arbitration, ArbitrationOption, CreateArbitrationRequest, Decision, RecordDecisionRequest};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

/// The `decision_type` [`Client::record_decision`] sends when none is given.
pub const DEFAULT_DECISION_TYPE: &str = "decision";

impl<M: Mode> GenericClient<M> {
    /// Asks for arbitration (`POST …/arbitrate`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let arbitration = client
    ///     .request_arbitration("7f1c…", "Conflicting interpretations of requirements")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request_arbitration(&self, intent_id: &str, reason: impl Into<String>) -> RequestArbitration<M> {
        RequestArbitration {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: CreateArbitrationRequest::new(reason),
            context: None,
        }
    }

    /// Records a decision (`POST …/decisions`); the seed's `decision` is sent as `outcome`.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let decision = client
    ///     .record_decision("7f1c…", "proceed_with_option_a")
    ///     .rationale("Option A better aligns with business objectives")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn record_decision(&self, intent_id: &str, decision: impl Into<String>) -> RecordDecision<M> {
        RecordDecision {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: RecordDecisionRequest::new(decision),
        }
    }

    /// The recorded decisions of an intent, newest first, rebuilt from its
    /// `decision_recorded` events (works on every server; the reference's
    /// `GET …/decisions` lists something else).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for d in client.get_decisions("7f1c…").await? {
    ///     println!("{}: {}", d.outcome, d.rationale.unwrap_or_default());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_decisions(&self, intent_id: &str) -> M::Call<Vec<Decision>> {
        let intent_id = intent_id.to_owned();
        self.call(
            |c| async move { Ok(c.all_events(&intent_id).await?.iter().filter_map(Decision::from_event).collect()) },
        )
    }
}

/// Builder of [`Client::request_arbitration`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RequestArbitration<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: CreateArbitrationRequest,
    context: Option<Value>,
}

impl<M: Mode> RequestArbitration<M> {
    /// Context for the arbiter (a JSON object).
    ///
    /// Example: [`Client::request_arbitration`].
    pub fn context(mut self, context: impl Into<Value>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The options on the table (RFC-0003).
    ///
    /// Example: [`Client::request_arbitration`].
    pub fn options(mut self, options: impl IntoIterator<Item = ArbitrationOption>) -> Self {
        self.req.options = Some(options.into_iter().collect());
        self
    }

    /// Who asks (default: the agent id).
    ///
    /// Example: [`Client::request_arbitration`].
    pub fn requested_by(mut self, who: impl Into<String>) -> Self {
        self.req.requested_by = Some(who.into());
        self
    }

    async fn run(self) -> Result<Arbitration> {
        let mut req = self.req;
        if let Some(c) = self.context {
            req.context = Some(object("context", c)?);
        }
        if req.requested_by.is_none() {
            req.requested_by = Some(self.client.agent_id().to_owned());
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/arbitrate")?), &req)?;
        let mut a: Arbitration = self.client.json(request).await?;
        a.intent_id.get_or_insert(self.intent_id);
        a.requested_by = a.requested_by.or(req.requested_by);
        a.reason = a.reason.or(Some(req.reason));
        if a.context.is_empty() {
            a.context = req.context.unwrap_or_default();
        }
        if a.options.is_empty() {
            a.options = req.options.unwrap_or_default();
        }
        Ok(a)
    }
}
impl_send!(RequestArbitration, Arbitration, "request_arbitration");

/// Builder of [`Client::record_decision`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RecordDecision<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: RecordDecisionRequest,
}

impl<M: Mode> RecordDecision<M> {
    /// Why.
    ///
    /// Example: [`Client::record_decision`].
    pub fn rationale(mut self, rationale: impl Into<String>) -> Self {
        self.req.rationale = Some(rationale.into());
        self
    }

    /// The kind of decision (default `decision`).
    ///
    /// Example: [`Client::record_decision`].
    pub fn decision_type(mut self, decision_type: impl Into<String>) -> Self {
        self.req.decision_type = Some(decision_type.into());
        self
    }

    /// Who decided (default: the agent id).
    ///
    /// Example: [`Client::record_decision`].
    pub fn decided_by(mut self, who: impl Into<String>) -> Self {
        self.req.decided_by = Some(who.into());
        self
    }

    /// Supporting evidence (RFC-0003: `{source, summary}` objects).
    ///
    /// Example: [`Client::record_decision`].
    pub fn evidence(mut self, evidence: impl IntoIterator<Item = Value>) -> Self {
        self.req.evidence = Some(evidence.into_iter().collect());
        self
    }

    async fn run(self) -> Result<Decision> {
        let mut req = self.req;
        req.decision_type.get_or_insert_with(|| DEFAULT_DECISION_TYPE.to_owned());
        req.decided_by.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/decisions")?), &req)?;
        let mut d: Decision = self.client.json(request).await?;
        d.intent_id.get_or_insert(self.intent_id);
        if d.outcome.is_empty() {
            d.outcome = req.outcome;
        }
        d.decision_type = d.decision_type.or(req.decision_type);
        d.decided_by = d.decided_by.or(req.decided_by);
        d.rationale = d.rationale.or(req.rationale);
        d.evidence = d.evidence.or(req.evidence);
        Ok(d)
    }
}
impl_send!(RecordDecision, Decision, "record_decision");

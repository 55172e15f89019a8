//! Cost tracking (RFC-0009).
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `record_cost(id, cost_type, amount, unit, provider?, metadata?)` | [`Client::record_cost`] | `POST …/costs` (`agent_id` = agent id; metadata under `cost_metadata` and `metadata`) |
//! | `get_costs(id)` | [`Client::get_costs`] | `GET …/costs` |
//! | `get_cost_summary(id)` | [`Client::get_cost_summary`] | `GET …/costs`, summed here unless the server sends a `summary` |

use openintent_transport::Request;
use openintent_types::{CostRecord, CostSummary, RecordCostRequest};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object};
use crate::error::{DecodeError, Error, Result};
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Records a cost (`POST …/costs`).
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let cost = client
    ///     .record_cost("7f1c…", "api_call", 0.05, "USD")
    ///     .provider("openai")
    ///     .metadata(json!({"model": "gpt-4", "tokens": 1500}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn record_cost(
        &self,
        intent_id: &str,
        cost_type: impl Into<String>,
        amount: f64,
        unit: impl Into<String>,
    ) -> RecordCost<M> {
        RecordCost {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: RecordCostRequest::new(cost_type, amount, unit),
            metadata: None,
        }
    }

    /// The cost records of an intent (`GET …/costs`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let total: f64 = client.get_costs("7f1c…").await?.iter().map(|c| c.amount).sum();
    /// # Ok(()) }
    /// ```
    pub fn get_costs(&self, intent_id: &str) -> M::Call<Vec<CostRecord>> {
        let path = intent_path(intent_id, "/costs");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// Totals of an intent's costs: overall, per type, per agent and per unit. Uses the
    /// server's `summary` when its list carries one, else sums the records.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let summary = client.get_cost_summary("7f1c…").await?;
    /// println!("Total: {} By type: {:?}", summary.total, summary.by_type);
    /// # Ok(()) }
    /// ```
    pub fn get_cost_summary(&self, intent_id: &str) -> M::Call<CostSummary> {
        let path = intent_path(intent_id, "/costs");
        self.call(|c| async move {
            let path = path?;
            let list = c.list::<CostRecord>(Request::get(path.clone())).await?;
            match list.extra.get("summary") {
                Some(summary @ Value::Object(_)) => serde_json::from_value(summary.clone()).map_err(|e| {
                    Error::Decode(DecodeError::new(
                        openintent_transport::Method::Get,
                        &path,
                        200,
                        "summary".to_owned(),
                        summary.to_string().as_bytes(),
                        e,
                    ))
                }),
                _ => Ok(CostSummary::from_records(&list.items)),
            }
        })
    }
}

/// Builder of [`Client::record_cost`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RecordCost<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: RecordCostRequest,
    metadata: Option<Value>,
}

impl<M: Mode> RecordCost<M> {
    /// The provider (`openai`, ...).
    ///
    /// Example: [`Client::record_cost`].
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.req.provider = Some(provider.into());
        self
    }

    /// Metadata (a JSON object).
    ///
    /// Example: [`Client::record_cost`].
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// Who incurred it (default: the agent id).
    ///
    /// Example: [`Client::record_cost`].
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.req.agent_id = Some(agent_id.into());
        self
    }

    async fn run(self) -> Result<CostRecord> {
        let mut req = self.req;
        if let Some(m) = self.metadata {
            req.cost_metadata = Some(object("metadata", m)?);
        }
        req.agent_id.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/costs")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(RecordCost, CostRecord, "record_cost");

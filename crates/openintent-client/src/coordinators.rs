//! Coordinator leases (RFC-0013): an agent's grant to coordinate an intent or a portfolio.
//!
//! | 0.17 SDK | Rust | Wire |
//! |---|---|---|
//! | `create_coordinator_lease(agent_id, intent_id, ...)` | [`Client::create_coordinator_lease`] | `POST /api/v1/coordinators` |
//! | `get_coordinator_lease(lease_id)` | [`Client::get_coordinator_lease`] | `GET /api/v1/coordinators/{id}` |
//! | `list_coordinator_leases(intent_id)` | [`Client::list_coordinator_leases`] | `GET /api/v1/intents/{id}/coordinators` (a bare array) |
//! | `coordinator_heartbeat(lease_id)` | [`Client::coordinator_heartbeat`] | `POST /api/v1/coordinators/{id}/heartbeat` (no body) |
//! | `create_decision_record(coordinator_id, intent_id, ...)` | [`Client::create_decision_record`] | `POST /api/v1/decisions` |
//! | `list_decision_records(intent_id, limit)` | [`Client::list_decision_records`] | `GET /api/v1/intents/{id}/coordinator-decisions` (a bare array, newest first) |
//!
//! On this server `agent_id` must name the caller (unless its key is an operator's or an
//! admin's), the intent must be readable by the caller, and only the lease's agent (or an
//! admin key) may heartbeat it; the reference checks none of these.
//!
//! A decision record names a lease that coordinates its intent (or a portfolio holding it);
//! this server records it only for the lease's agent (or an operator or admin key), with
//! write access to the intent, and refuses a `confidence` outside 0..=1; the reference stores
//! any record as given. The reference lists records at `…/decisions` and answers
//! `list_decision_records`' path with a 404 ([`crate::Error::is_unsupported`]).

use openintent_transport::Request;
use openintent_types::{
    CoordinatorLease, CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest, DecisionRecord, HeartbeatResponse,
};

use crate::client::{Client, GenericClient, intent_path, seg};
use crate::error::Result;
use crate::mode::Mode;

fn lease_path(lease_id: &str, suffix: &str) -> Result<String> {
    Ok(format!("/api/v1/coordinators/{}{suffix}", seg("lease_id", lease_id)?))
}

impl<M: Mode> GenericClient<M> {
    /// Grants a coordinator lease (`POST /api/v1/coordinators`); the request is validated
    /// before it is sent.
    ///
    /// ```no_run
    /// use openintent_client::types::CreateCoordinatorLeaseRequest;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut req = CreateCoordinatorLeaseRequest::for_intent("coordinator", "7f1c…");
    /// req.heartbeat_interval_seconds = Some(30);
    /// let lease = client.create_coordinator_lease(&req).await?;
    /// # Ok(()) }
    /// ```
    pub fn create_coordinator_lease(&self, request: &CreateCoordinatorLeaseRequest) -> M::Call<CoordinatorLease> {
        let request = request.clone();
        self.call(
            move |c| async move { c.json(Client::with_body(Request::post("/api/v1/coordinators"), &request)?).await },
        )
    }

    /// One lease (`GET /api/v1/coordinators/{id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let lease = client.get_coordinator_lease("cc20b89d…").await?;
    /// println!("{} coordinates {:?}", lease.agent_id, lease.intent_id);
    /// # Ok(()) }
    /// ```
    pub fn get_coordinator_lease(&self, lease_id: &str) -> M::Call<CoordinatorLease> {
        let path = lease_path(lease_id, "");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// The coordinator leases of an intent (`GET /api/v1/intents/{id}/coordinators`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for lease in client.list_coordinator_leases("7f1c…").await? {
    ///     println!("{} ({})", lease.agent_id, lease.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_coordinator_leases(&self, intent_id: &str) -> M::Call<Vec<CoordinatorLease>> {
        let path = intent_path(intent_id, "/coordinators");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Heartbeats a lease (`POST /api/v1/coordinators/{id}/heartbeat`, no body); the answer
    /// says when the next one is due.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let beat = client.coordinator_heartbeat("cc20b89d…").await?;
    /// assert!(beat.is_acknowledged());
    /// # Ok(()) }
    /// ```
    pub fn coordinator_heartbeat(&self, lease_id: &str) -> M::Call<HeartbeatResponse> {
        let path = lease_path(lease_id, "/heartbeat");
        self.call(|c| async move { c.json(Request::post(path?)).await })
    }

    /// Records a coordinator's decision (`POST /api/v1/decisions`); the request is validated
    /// before it is sent.
    ///
    /// ```no_run
    /// use openintent_client::types::CreateDecisionRecordRequest;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut req = CreateDecisionRecordRequest::new(
    ///     "cc20b89d…", "7f1c…", "task_assigned", "Assign research to alpha", "alpha has the capacity",
    /// );
    /// req.confidence = Some(0.85);
    /// let record = client.create_decision_record(&req).await?;
    /// println!("recorded {} at {}", record.id, record.timestamp);
    /// # Ok(()) }
    /// ```
    pub fn create_decision_record(&self, request: &CreateDecisionRecordRequest) -> M::Call<DecisionRecord> {
        let request = request.clone();
        self.call(
            move |c| async move { c.json(Client::with_body(Request::post("/api/v1/decisions"), &request)?).await },
        )
    }

    /// The decision records of an intent, newest first
    /// (`GET /api/v1/intents/{id}/coordinator-decisions`); `limit` defaults to the server's 50.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for record in client.list_decision_records("7f1c…", Some(10)).await? {
    ///     println!("{}: {}", record.decision_type, record.summary);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_decision_records(&self, intent_id: &str, limit: Option<u32>) -> M::Call<Vec<DecisionRecord>> {
        let path = intent_path(intent_id, "/coordinator-decisions");
        self.call(move |c| async move {
            let mut req = Request::get(path?);
            if let Some(limit) = limit {
                req = req.query("limit", limit.to_string());
            }
            c.json(req).await
        })
    }
}

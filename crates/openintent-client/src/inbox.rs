//! The human inbox: everything waiting for a person, in one list.
//!
//! | 0.17 SDK | Rust | Wire |
//! |---|---|---|
//! | — | [`Client::inbox`](crate::Client::inbox) | `GET /api/v1/inbox` (not on the reference: [`unsupported`](crate::Error::is_unsupported)) |
//!
//! The list holds, oldest first and among the intents the caller may read: pending approval
//! requests, arbitration requests with no decision recorded since, intents suspended awaiting
//! input, and pending escalations ([`InboxItem`], whose typed readers give the approval,
//! arbitration, suspension record or escalation). An item leaves the list once answered:
//! [`Client::approve_approval`](crate::Client::approve_approval) / [`Client::deny_approval`](crate::Client::deny_approval), [`Client::record_decision`](crate::Client::record_decision),
//! [`Client::respond_to_suspension`](crate::Client::respond_to_suspension), [`Client::resolve_escalation`](crate::Client::resolve_escalation).

use openintent_transport::Request;
use openintent_types::InboxItem;

use crate::client::GenericClient;
use crate::mode::Mode;

impl<M: Mode> GenericClient<M> {
    /// Everything waiting for a human among the intents this client may read, oldest first
    /// (`GET /api/v1/inbox`).
    ///
    /// ```no_run
    /// use openintent_client::types::InboxKind;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for item in client.inbox().await? {
    ///     match item.kind {
    ///         InboxKind::Input => {
    ///             let question = item.suspension().map(|s| s.question).unwrap_or_default();
    ///             println!("{} asks: {question}", item.intent_title);
    ///         }
    ///         kind => println!("{kind} on {} since {}", item.intent_title, item.created_at),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn inbox(&self) -> M::Call<Vec<InboxItem>> {
        self.call(|c| async move { Ok(c.list(Request::get("/api/v1/inbox")).await?.items) })
    }
}

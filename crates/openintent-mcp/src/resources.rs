//! Intents, their event logs, portfolios and agents as MCP resources, and resource-updated
//! notifications fed by the client's live event streams.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use openintent_client::{Client, Error};
use rmcp::model::{RawResource, RawResourceTemplate, Resource, ResourceTemplate, ResourceUpdatedNotificationParam};
use rmcp::service::RoleServer;
use rmcp::{ErrorData as McpError, Peer};
use serde_json::Value;
use tokio::task::JoinHandle;

/// The URI scheme of the resources.
pub const SCHEME: &str = "openintent://";

/// A resource, parsed from its URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceRef {
    /// `openintent://intents/{id}`
    Intent(String),
    /// `openintent://intents/{id}/events`
    IntentEvents(String),
    /// `openintent://portfolios/{id}`
    Portfolio(String),
    /// `openintent://agents/{id}`
    Agent(String),
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '?', '#'])
}

impl ResourceRef {
    /// Parses a resource URI; `None` for anything else.
    pub(crate) fn parse(uri: &str) -> Option<ResourceRef> {
        let rest = uri.strip_prefix(SCHEME)?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["intents", id] if id_ok(id) => Some(ResourceRef::Intent((*id).to_owned())),
            ["intents", id, "events"] if id_ok(id) => Some(ResourceRef::IntentEvents((*id).to_owned())),
            ["portfolios", id] if id_ok(id) => Some(ResourceRef::Portfolio((*id).to_owned())),
            ["agents", id] if id_ok(id) => Some(ResourceRef::Agent((*id).to_owned())),
            _ => None,
        }
    }

    /// The resource's URI.
    pub(crate) fn uri(&self) -> String {
        match self {
            ResourceRef::Intent(id) => format!("{SCHEME}intents/{id}"),
            ResourceRef::IntentEvents(id) => format!("{SCHEME}intents/{id}/events"),
            ResourceRef::Portfolio(id) => format!("{SCHEME}portfolios/{id}"),
            ResourceRef::Agent(id) => format!("{SCHEME}agents/{id}"),
        }
    }

    /// Reads the resource through the client, as JSON.
    pub(crate) async fn read(&self, client: &Client) -> Result<Value, Error> {
        let value = match self {
            ResourceRef::Intent(id) => serde_json::to_value(client.get_intent(id).await?),
            ResourceRef::IntentEvents(id) => serde_json::to_value(client.get_events(id).await?),
            ResourceRef::Portfolio(id) => serde_json::to_value(client.get_portfolio(id).await?),
            ResourceRef::Agent(id) => serde_json::to_value(client.get_agent_record(id).await?),
        };
        Ok(value.unwrap_or(Value::Null))
    }
}

/// The URI templates of the resources.
pub(crate) fn templates() -> Vec<ResourceTemplate> {
    [
        ("intents/{intent_id}", "intent", "An intent: title, status, state, version"),
        ("intents/{intent_id}/events", "intent-events", "An intent's event log, oldest first"),
        ("portfolios/{portfolio_id}", "portfolio", "A portfolio with its intents"),
        ("agents/{agent_id}", "agent", "An agent's registry record"),
    ]
    .into_iter()
    .map(|(path, name, description)| {
        let mut t = RawResourceTemplate::new(format!("{SCHEME}{path}"), name);
        t.description = Some(description.to_owned());
        t.mime_type = Some("application/json".to_owned());
        rmcp::model::AnnotateAble::no_annotation(t)
    })
    .collect()
}

/// A concrete resource for the listing.
pub(crate) fn listed(r: &ResourceRef, name: String) -> Resource {
    let mut raw = RawResource::new(r.uri(), name);
    raw.mime_type = Some("application/json".to_owned());
    rmcp::model::AnnotateAble::no_annotation(raw)
}

/// The live subscriptions of one MCP session: one task per subscribed URI, following the
/// server's event stream and telling the host that the resource changed. Dropped with the
/// session: the tasks stop.
#[derive(Debug, Default, Clone)]
pub(crate) struct Subscriptions(Arc<Mutex<HashMap<String, JoinHandle<()>>>>);

impl Subscriptions {
    /// Follows the resource's changes and notifies `peer` of each. Subscribing twice to one
    /// URI keeps one subscription.
    pub(crate) async fn subscribe(&self, client: &Client, r: ResourceRef, peer: Peer<RoleServer>) -> Result<(), Error> {
        let uri = r.uri();
        if self.lock().get(&uri).is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let builder = match &r {
            ResourceRef::Intent(id) | ResourceRef::IntentEvents(id) => client.stream_intent_events(id),
            ResourceRef::Portfolio(id) => client.stream_portfolio_events(id),
            ResourceRef::Agent(id) => client.stream_agent_events(id),
        };
        // Connect before answering, so that changes made after the subscription are seen.
        let mut stream = builder.connect().await?;
        let events_only = matches!(r, ResourceRef::IntentEvents(_));
        let task_uri = uri.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => {
                        if events_only && !matches!(event, openintent_types::StreamEvent::Event(_)) {
                            continue;
                        }
                        let note = ResourceUpdatedNotificationParam::new(task_uri.clone());
                        if peer.notify_resource_updated(note).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!(uri = %task_uri, error = %e, "resource event stream failed"),
                }
            }
        });
        if let Some(old) = self.lock().insert(uri, task) {
            old.abort();
        }
        Ok(())
    }

    /// Stops following a resource.
    pub(crate) fn unsubscribe(&self, uri: &str) {
        if let Some(task) = self.lock().remove(uri) {
            task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        // The last handle of the session's set stops its tasks.
        if Arc::strong_count(&self.0) == 1 {
            for (_, task) in self.lock().drain() {
                task.abort();
            }
        }
    }
}

/// A resource error for the host.
pub(crate) fn read_error(uri: &str, e: &Error) -> McpError {
    if e.is_not_found() {
        McpError::resource_not_found(format!("no resource at {uri}: {e}"), None)
    } else {
        McpError::internal_error(format!("cannot read {uri}: {e}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_others_are_refused() {
        for uri in [
            "openintent://intents/abc",
            "openintent://intents/abc/events",
            "openintent://portfolios/p1",
            "openintent://agents/a-1",
        ] {
            assert_eq!(ResourceRef::parse(uri).map(|r| r.uri()).as_deref(), Some(uri));
        }
        for uri in ["openintent://intents/", "openintent://intents/a/b", "http://x/intents/a", "openintent://leases/x"]
        {
            assert_eq!(ResourceRef::parse(uri), None, "{uri}");
        }
    }
}

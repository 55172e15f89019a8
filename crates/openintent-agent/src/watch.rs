//! Reactive handlers: while the agent is assigned to an unfinished intent, the intent's
//! stream is followed and its events go to the state, status and by-name handlers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use openintent_client::Client;
use openintent_client::types::{AgentAssignment, EventType, IntentStatus, StreamEvent};
use tokio::sync::watch;
use tracing::Instrument;

use crate::Ctx;
use crate::ctx::Trace;
use crate::handler::Handler;

/// The handlers of events on assigned intents.
#[derive(Clone, Default)]
pub(crate) struct IntentHandlers {
    pub(crate) state: Option<Handler>,
    pub(crate) status: Option<Handler>,
    pub(crate) by_name: HashMap<String, Handler>,
}

impl IntentHandlers {
    pub(crate) fn is_empty(&self) -> bool {
        self.state.is_none() && self.status.is_none() && self.by_name.is_empty()
    }

    /// The handlers an event goes to.
    fn for_event(&self, event: &StreamEvent) -> Vec<Handler> {
        let mut out = Vec::new();
        if let StreamEvent::IntentChanged { event_type, .. } = event {
            let kind = match event_type {
                EventType::StatePatched => &self.state,
                EventType::StatusChanged => &self.status,
                _ => &None,
            };
            out.extend(kind.clone());
        }
        out.extend(self.by_name.get(&event.event_type()).cloned());
        out
    }
}

/// Follows `assignment`'s intent from the assignment's event on (from now when it has no id), until the intent is
/// finished, the agent drains, or the stream fails for good. Handlers run one at a time, in
/// stream order, each on its own task (a panic is logged, not fatal) inside a span
/// `openintent.event`.
pub(crate) async fn follow_intent(
    client: Client,
    handlers: IntentHandlers,
    assignment: AgentAssignment,
    from_event: Option<String>,
    mut draining: watch::Receiver<bool>,
) {
    let intent_id = assignment.intent_id.clone();
    let mut builder = client.stream_intent_events(&intent_id);
    if let Some(id) = from_event {
        builder = builder.last_event_id(id);
    }
    let mut stream = builder.into_stream();
    let mut last_seen = None;
    loop {
        let item = tokio::select! {
            _ = draining.wait_for(|d| *d) => return,
            item = stream.next() => item,
        };
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                tracing::warn!(intent_id, error = %e, "intent stream failed; its events are no longer handled");
                return;
            }
            None => return,
        };
        let event_id = stream.last_event_id().unwrap_or_default();
        if Some(&event_id) == last_seen.as_ref() {
            continue;
        }
        last_seen = Some(event_id.clone());
        let finished = matches!(&event, StreamEvent::IntentChanged { intent, .. }
            if matches!(intent.status, IntentStatus::Completed | IntentStatus::Abandoned));
        let targets = handlers.for_event(&event);
        if !targets.is_empty() {
            let intent = match &event {
                StreamEvent::IntentChanged { intent, .. } => Ok((**intent).clone()),
                _ => client.get_intent(&intent_id).await,
            };
            match intent {
                Ok(intent) => {
                    let span = tracing::info_span!(
                        "openintent.event",
                        agent_id = %client.agent_id(),
                        intent_id = %intent_id,
                        event_id = %event_id,
                        event_type = %event.event_type(),
                        trace_id = tracing::field::Empty,
                    );
                    for handler in targets {
                        let trace = Trace::new();
                        span.record("trace_id", trace.id.as_str());
                        let ctx = Ctx {
                            client: client.clone(),
                            intent: intent.clone(),
                            assignment: assignment.clone(),
                            event: Some(event.clone()),
                            event_id: event_id.clone(),
                            attempt: 1,
                            lease_seconds: crate::DEFAULT_LEASE_SECONDS,
                            leases: Arc::new(Mutex::new(Vec::new())),
                            trace,
                        };
                        let leases = ctx.leases.clone();
                        let task = tokio::spawn(handler(ctx).instrument(span.clone()));
                        let joined = task.await;
                        crate::runtime::release_all(&client, &intent_id, &leases).await;
                        match joined {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::warn!(parent: &span, error = %e, "event handler failed"),
                            Err(e) => tracing::warn!(parent: &span, error = %e, "event handler panicked"),
                        }
                    }
                }
                Err(e) => tracing::warn!(intent_id, error = %e, "could not read the intent for its event handlers"),
            }
        }
        if finished {
            return;
        }
    }
}

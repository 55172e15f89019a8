//! Reactive handlers: while the agent is assigned to an unfinished intent, the intent's
//! stream is followed and its events go to the state, status and by-name handlers.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use openintent_client::Client;
use openintent_client::types::{AgentAssignment, EventType, IntentStatus, StreamEvent};
use tokio::sync::watch;
use tracing::Instrument;

use crate::ctx::Ctx;
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
        let kind = match event.intent_change() {
            Some(EventType::StatePatched) => &self.state,
            Some(EventType::StatusChanged) => &self.status,
            _ => &None,
        };
        out.extend(kind.clone());
        out.extend(self.by_name.get(&event.event_type()).cloned());
        out
    }
}

/// The intents followed for the intent handlers: each one's assignment and the last of its
/// events handled, kept in a file next to the cursor file (when there is one) so that a
/// restarted agent follows them again from where it was.
#[derive(Debug, Default)]
pub(crate) struct WatchBook {
    file: Option<PathBuf>,
    entries: BTreeMap<String, Watched>,
}

/// One followed intent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Watched {
    pub(crate) assignment: AgentAssignment,
    pub(crate) position: Option<String>,
}

impl WatchBook {
    /// The book kept in `file` (read now when it exists).
    pub(crate) fn open(file: Option<PathBuf>) -> std::io::Result<WatchBook> {
        let entries = match &file {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(e),
            },
            None => BTreeMap::new(),
        };
        Ok(WatchBook { file, entries })
    }

    /// The intents to follow again, with where to resume.
    pub(crate) fn entries(&self) -> Vec<Watched> {
        self.entries.values().cloned().collect()
    }

    /// Starts following an intent; false when it is followed already.
    pub(crate) fn start(&mut self, watched: Watched) -> bool {
        let id = watched.assignment.intent_id.clone();
        if self.entries.contains_key(&id) {
            return false;
        }
        self.entries.insert(id, watched);
        self.save();
        true
    }

    /// The intent's event `position` is handled.
    pub(crate) fn advance(&mut self, intent_id: &str, position: &str) {
        if let Some(w) = self.entries.get_mut(intent_id) {
            w.position = Some(position.to_owned());
            self.save();
        }
    }

    /// The intent is no longer followed (`finished`: nor after a restart).
    pub(crate) fn stop(&mut self, intent_id: &str, finished: bool) {
        if finished {
            self.entries.remove(intent_id);
            self.save();
        }
    }

    fn save(&self) {
        let Some(path) = &self.file else { return };
        let tmp = path.with_extension("tmp-intents");
        let result = serde_json::to_vec(&self.entries)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not write the followed intents");
        }
    }
}

/// Follows `assignment`'s intent from the assignment's event on (from now when it has no id), until the intent is
/// finished, the agent drains, or the stream fails for good. Handlers run one at a time, in
/// stream order, each on its own task (a panic is logged, not fatal) inside a span
/// `openintent.event`. True when the intent finished.
pub(crate) async fn follow_intent(
    client: Client,
    handlers: IntentHandlers,
    assignment: AgentAssignment,
    from_event: Option<String>,
    mut draining: watch::Receiver<bool>,
    book: Arc<Mutex<WatchBook>>,
) -> bool {
    let intent_id = assignment.intent_id.clone();
    let mut builder = client.stream_intent_events(&intent_id);
    if let Some(id) = from_event {
        builder = builder.last_event_id(id);
    }
    let mut stream = builder.into_stream();
    let mut last_seen = None;
    loop {
        let item = tokio::select! {
            _ = draining.wait_for(|d| *d) => return false,
            item = stream.next() => item,
        };
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                tracing::warn!(intent_id, error = %e, "intent stream failed; its events are no longer handled");
                return false;
            }
            None => return false,
        };
        let event_id = stream.last_event_id().unwrap_or_default();
        if Some(&event_id) == last_seen.as_ref() {
            continue;
        }
        last_seen = Some(event_id.clone());
        let finished = matches!(event.new_status(), Some(IntentStatus::Completed | IntentStatus::Abandoned));
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
                            lease_seconds: crate::ctx::DEFAULT_LEASE_SECONDS,
                            leases: Arc::new(Mutex::new(Vec::new())),
                            trace,
                        };
                        let leases = ctx.leases.clone();
                        let task = tokio::spawn(handler(ctx).instrument(span.clone()));
                        let joined = task.await;
                        crate::ctx::release_all(&client, &intent_id, &leases).await;
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
        book.lock().unwrap_or_else(|e| e.into_inner()).advance(&intent_id, &event_id);
        if finished {
            return true;
        }
    }
}

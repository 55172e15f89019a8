//! Human input without polling: suspend the intent and wait for the answer on its stream.

use std::time::Duration;

use futures_util::StreamExt;
use openintent_client::hitl::{InputOutcome, suspension_of};
use openintent_client::types::{EventType, Intent, ResponseType, StreamEvent, SuspensionChoice, SuspensionResolution};
use serde_json::Value;

use crate::ctx::Ctx;

impl Ctx {
    /// Asks a human (RFC-0025): suspends the intent with `question` and the `choices` (none: a
    /// free-text answer), then waits for the answer on the intent's event stream — no polling. With
    /// a `timeout`, the server ends the suspension when it runs out and applies its fallback
    /// policy ([`InputOutcome::Expired`]). The agent's other work goes on meanwhile; this work
    /// keeps its slot and its leases (renewed) while it waits.
    ///
    /// ```no_run
    /// use openintent_client::hitl::InputOutcome;
    /// use openintent_client::types::SuspensionChoice;
    /// # async fn handler(ctx: openintent_agent::Ctx) -> openintent_agent::HandlerResult {
    /// let choices = vec![SuspensionChoice::new("approve", "Approve"), SuspensionChoice::new("deny", "Deny")];
    /// match ctx.request_input("Refund order 12345?", choices, None).await? {
    ///     InputOutcome::Responded(answer) => ctx.set_state("decision", answer).await?,
    ///     other => return Err(format!("no decision: {other:?}").into()),
    /// };
    /// # Ok(()) }
    /// ```
    pub async fn request_input(
        &self,
        question: &str,
        choices: Vec<SuspensionChoice>,
        timeout: Option<Duration>,
    ) -> openintent_client::Result<InputOutcome> {
        let id = self.intent.id.clone();
        // Subscribed before suspending: the answer cannot come before the stream is open.
        let mut stream = self.client.stream_intent_events(&id).connect().await?;
        let suspended = self.suspend(question, &choices, timeout).await?;
        let Some(suspension_id) = suspension_of(&suspended).map(|s| s.id) else {
            return Err(openintent_client::Error::Transport(openintent_client::TransportError::other(
                "the suspended intent holds no suspension record",
            )));
        };
        tracing::info!(intent_id = %id, suspension_id, "waiting for human input");
        while let Some(item) = stream.next().await {
            let outcome = match item {
                Ok(StreamEvent::IntentChanged { intent, .. }) => outcome_in(&intent, &suspension_id),
                Ok(StreamEvent::Event(e))
                    if e.payload.get("suspension_id").and_then(Value::as_str) == Some(&suspension_id) =>
                {
                    match e.event_type {
                        EventType::IntentResumed => {
                            Some(InputOutcome::Responded(e.payload.get("value").cloned().unwrap_or(Value::Null)))
                        }
                        EventType::SuspensionExpired => outcome_in(&self.refresh().await?, &suspension_id),
                        _ => None,
                    }
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "intent stream failed while waiting for input; reading the intent");
                    break;
                }
            };
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
        // The stream ended (after its own reconnects): one read says where things stand.
        self.client.wait_for_input(&id, &suspension_id, Duration::ZERO, Duration::ZERO).await
    }

    /// Suspends with the current version, reading again on a version conflict.
    async fn suspend(
        &self,
        question: &str,
        choices: &[SuspensionChoice],
        timeout: Option<Duration>,
    ) -> openintent_client::Result<Intent> {
        let mut conflicts = 0;
        loop {
            let intent = self.refresh().await?;
            let mut call = self.client.suspend(&intent.id, intent.version, question);
            if choices.is_empty() {
                call = call.response_type(ResponseType::Text);
            }
            for choice in choices {
                call = call.choice(choice.clone());
            }
            if let Some(t) = timeout {
                call = call.timeout_seconds(t.as_secs().max(1) as i64);
            }
            match call.send().await {
                Err(e) if e.is_version_conflict() && conflicts < 5 => conflicts += 1,
                other => return other,
            }
        }
    }
}

/// How the suspension ended, by the intent's record, if it has.
fn outcome_in(intent: &Intent, suspension_id: &str) -> Option<InputOutcome> {
    let record = suspension_of(intent).filter(|r| r.id == suspension_id)?;
    Some(match record.resolution? {
        SuspensionResolution::Responded => InputOutcome::Responded(record.response.unwrap_or(Value::Null)),
        SuspensionResolution::Expired => {
            InputOutcome::Expired { value: record.response, status: intent.status.clone() }
        }
        _ => InputOutcome::Cancelled,
    })
}

//! Human input through the host: an intent's pending question (a suspension) put to the host's
//! user with MCP elicitation, where the host supports it.

use openintent_client::Client;
use openintent_types::{ResponseType, SuspensionRecord};
use rmcp::Peer;
use rmcp::model::{CreateElicitationRequestParams, ElicitationAction, ElicitationSchema, EnumSchema};
use rmcp::service::RoleServer;
use serde_json::{Value, json};

use crate::errors::ToolError;

/// The form asking for the answer: one field `answer`, one of the choices' values when there
/// are choices, a yes/no for a confirmation without choices, else text.
fn answer_schema(s: &SuspensionRecord) -> ElicitationSchema {
    let builder = ElicitationSchema::builder();
    let builder = if !s.choices.is_empty() {
        let values: Vec<String> = s.choices.iter().map(|c| c.value.clone()).collect();
        let labels: Vec<String> = s.choices.iter().map(|c| c.label.clone()).collect();
        let choices = match EnumSchema::builder(values.clone()).enum_titles(labels) {
            Ok(titled) => titled.build(),
            Err(_) => EnumSchema::builder(values).build(),
        };
        builder.required_enum_schema("answer", choices)
    } else if s.response_type == ResponseType::Confirm {
        builder.required_bool("answer")
    } else {
        builder.required_string("answer")
    };
    builder.build_unchecked()
}

/// The message shown to the user: the question, then the choices' labels.
fn message(s: &SuspensionRecord) -> String {
    let mut m = s.question.clone();
    for c in &s.choices {
        m.push_str(&format!("\n- {}: {}", c.value, c.label));
        if let Some(d) = &c.description {
            m.push_str(&format!(" ({d})"));
        }
    }
    m
}

/// Whether the host said it can ask its user.
fn host_elicits(peer: &Peer<RoleServer>) -> bool {
    peer.peer_info().is_some_and(|info| info.capabilities.elicitation.is_some())
}

/// Answers the intent's pending question through the host's user, or tells what is pending.
pub(crate) async fn answer_pending_input(
    client: &Client,
    peer: Option<Peer<RoleServer>>,
    intent_id: &str,
) -> Result<Value, ToolError> {
    let Some(pending) = client.get_suspension(intent_id).await?.filter(|s| s.resolution.is_none()) else {
        return Ok(json!({"answered": false, "pending": null, "message": "nothing is pending on this intent"}));
    };
    let Some(peer) = peer.filter(host_elicits) else {
        return Ok(json!({
            "answered": false,
            "pending": pending,
            "message": "the host cannot ask its user: ask the question yourself, then call respond_to_suspension \
                        with the suspension id and the answer",
        }));
    };
    let request = CreateElicitationRequestParams::FormElicitationParams {
        meta: None,
        message: message(&pending),
        requested_schema: answer_schema(&pending),
    };
    let answer = match peer.create_elicitation(request).await {
        Ok(answer) => answer,
        Err(e) => {
            return Ok(json!({
                "answered": false,
                "pending": pending,
                "message": format!("the host did not ask its user ({e}): ask the question yourself, then call \
                                    respond_to_suspension"),
            }));
        }
    };
    let value = answer.content.as_ref().and_then(|c| c.get("answer")).cloned();
    match (answer.action, value) {
        (ElicitationAction::Accept, Some(value)) => {
            let response = client.respond_to_suspension(intent_id, pending.id.clone(), value.clone()).await?;
            Ok(json!({"answered": true, "answer": value, "response": response}))
        }
        (action, _) => Ok(json!({
            "answered": false,
            "action": format!("{action:?}").to_lowercase(),
            "pending": pending,
            "message": "the user did not answer; the question stays pending",
        })),
    }
}

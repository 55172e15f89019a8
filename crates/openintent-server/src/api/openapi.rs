//! The OpenAPI 3.1 document, served keyless at `GET /openapi.json`.
//!
//! The document is generated from code, not kept as a file:
//!
//! - every operation comes from the table of the area that serves it (each area's `OPERATIONS`,
//!   of method, path, summary, request body, response, query parameters and headers, next to
//!   its routes; [`operations`] joins them); the integration tests check the tables against the
//!   router in both directions (each operation is served, and each route the source registers
//!   is in a table), so a route cannot exist without being documented;
//! - request body schemas come from the one declaration of each request's fields in the types
//!   crate ([`RequestSchema::FIELDS`](openintent_types::schema::RequestSchema::FIELDS)), which
//!   the server checks bodies against and the request's `Validate` enforces: names, JSON kinds,
//!   which fields are required (optional ones also take `null`), and each field's value rule
//!   (not blank, length, enum, range, id, scope, media type, URL);
//! - CI (`.ci/run openapi`) lets schemathesis generate requests from this document against
//!   the server: no 5xx, and every status code, content type, header and response body as
//!   documented;
//! - response schemas are derived from the serialized `Default` instance of each model, in
//!   the superset wire form the server writes: every field the default instance writes is
//!   listed with its JSON type (`null` by default: any value); fields written only when set
//!   (such as a lease's derived `status`) are not listed, and extra properties are allowed.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use axum::routing::get;
use openintent_types::{AccessRequest, Acl, AclEntry, Channel, ChannelClosed, Message};
use openintent_types::{
    AgentAssignment, AgentRecord, Arbitration, Attachment, CostRecord, CostSummary, Decision, FailureRecord,
    HeartbeatResponse, Intent, IntentEvent, IntentGraph, Lease, Portfolio, PortfolioMembership, RetryPolicy,
    Subscription,
};
use openintent_types::{Approval, CoordinatorLease, DecisionRecord, Escalation, InputResponse};
use serde_json::{Map, Value, json};

use super::acl;
use super::channels;
use super::extract::{AGENT_ID_MAX_CHARS, IF_MATCH_PATTERN};
use super::spec::{Header, Op, Reply, Schema, op, plain_model, reference, wire_model};
use super::{
    arbitration, assignments, attachments, costs, discovery, events, graph, intents, leases, portfolios, registry,
    retries, streams, subscriptions,
};
use super::{coordinators, governance, hitl, inbox};
use crate::state::AppState;

/// The route serving the document (keyless).
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

// ----- what the document lists --------------------------------------------------------------

/// The operation of this module: the document itself.
const OPERATIONS: &[Op] = &[op("get", "/openapi.json", "openapi", "discovery", "This OpenAPI document").keyless()];

/// Every operation the server answers: the tables of the areas.
pub(super) fn operations() -> Vec<Op> {
    [
        discovery::OPERATIONS,
        OPERATIONS,
        intents::OPERATIONS,
        events::OPERATIONS,
        assignments::OPERATIONS,
        registry::OPERATIONS,
        graph::OPERATIONS,
        leases::OPERATIONS,
        arbitration::OPERATIONS,
        attachments::OPERATIONS,
        costs::OPERATIONS,
        retries::OPERATIONS,
        portfolios::OPERATIONS,
        subscriptions::OPERATIONS,
        streams::OPERATIONS,
        governance::OPERATIONS,
        coordinators::OPERATIONS,
        hitl::OPERATIONS,
        streams::sdk::OPERATIONS,
        acl::OPERATIONS,
        channels::OPERATIONS,
        inbox::OPERATIONS,
    ]
    .concat()
}

/// The tags of the operations, in the order the document lists them.
const TAGS: &[&str] = &[
    "discovery",
    "intents",
    "graphs",
    "portfolios",
    "events",
    "agents",
    "leases",
    "governance",
    "coordinators",
    "hitl",
    "attachments",
    "costs",
    "retries",
    "subscriptions",
    "streams",
    "access",
    "channels",
    "inbox",
];

/// The models answered by the API, as `components.schemas`.
const MODELS: &[Schema] = &[
    Schema { name: "Intent", build: wire_model::<Intent>, empty_ok: false },
    Schema { name: "IntentEvent", build: wire_model::<IntentEvent>, empty_ok: false },
    Schema { name: "AgentAssignment", build: wire_model::<AgentAssignment>, empty_ok: false },
    Schema { name: "AgentRecord", build: wire_model::<AgentRecord>, empty_ok: false },
    Schema { name: "HeartbeatResponse", build: wire_model::<HeartbeatResponse>, empty_ok: false },
    Schema { name: "IntentGraph", build: wire_model::<IntentGraph>, empty_ok: false },
    Schema { name: "Lease", build: wire_model::<Lease>, empty_ok: false },
    Schema { name: "Arbitration", build: wire_model::<Arbitration>, empty_ok: false },
    Schema { name: "Decision", build: wire_model::<Decision>, empty_ok: false },
    Schema { name: "Attachment", build: wire_model::<Attachment>, empty_ok: false },
    Schema { name: "CostRecord", build: wire_model::<CostRecord>, empty_ok: false },
    Schema { name: "CostSummary", build: plain_model::<CostSummary>, empty_ok: false },
    Schema { name: "RetryPolicy", build: wire_model::<RetryPolicy>, empty_ok: false },
    Schema { name: "FailureRecord", build: wire_model::<FailureRecord>, empty_ok: false },
    Schema { name: "Portfolio", build: wire_model::<Portfolio>, empty_ok: false },
    Schema { name: "PortfolioMembership", build: wire_model::<PortfolioMembership>, empty_ok: false },
    Schema { name: "Subscription", build: wire_model::<Subscription>, empty_ok: false },
    Schema { name: "Approval", build: wire_model::<Approval>, empty_ok: false },
    Schema { name: "Escalation", build: wire_model::<Escalation>, empty_ok: false },
    Schema { name: "CoordinatorLease", build: wire_model::<CoordinatorLease>, empty_ok: false },
    Schema { name: "DecisionRecord", build: wire_model::<DecisionRecord>, empty_ok: false },
    Schema { name: "InputResponse", build: wire_model::<InputResponse>, empty_ok: false },
    Schema { name: "Acl", build: wire_model::<Acl>, empty_ok: false },
    Schema { name: "AclEntry", build: wire_model::<AclEntry>, empty_ok: false },
    Schema { name: "AccessRequest", build: wire_model::<AccessRequest>, empty_ok: false },
    Schema { name: "Channel", build: wire_model::<Channel>, empty_ok: false },
    Schema { name: "ChannelClosed", build: wire_model::<ChannelClosed>, empty_ok: false },
    Schema { name: "Message", build: wire_model::<Message>, empty_ok: false },
    Schema { name: "Error", build: error_schema, empty_ok: false },
];

fn error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "detail": {
                "description": "A message, or (422) a list of field errors `{type, loc, msg, input}`",
                "type": ["string", "array"],
            },
        },
        "required": ["detail"],
    })
}

// ----- the document -------------------------------------------------------------------------

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad request: a missing or unreadable `If-Match`, or an unreadable `X-Agent-ID`",
        401 => "Invalid or missing API key",
        403 => {
            "Forbidden: the API key may not act as the claimed agent, or the intent's governance policy refuses the write (`detail.rule` names the rule)"
        }
        404 => "Not found",
        409 => "Conflict (stale version, lease held by another agent, duplicate)",
        413 => "Request body too large",
        422 => "Invalid input; `detail` lists the fields",
        503 => "The database is busy or unreachable; retry",
        _ => "Error",
    }
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn operation(ops: &[Op], op: &Op) -> Value {
    let mut parameters = path_parameters(op.path);
    for (name, schema, description) in op.query {
        let schema = schema();
        parameters.push(
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema}),
        );
    }
    for header in op.headers {
        parameters.push(match header {
            Header::IfMatch => json!({
                "name": "If-Match", "in": "header", "required": true,
                "description": "The version the change applies to: `\"N\"`, `N` or `W/\"N\"`",
                "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
            }),
            Header::LastEventId => json!({
                "name": "Last-Event-ID", "in": "header", "required": false,
                "description": "Resume after this message id: the missed messages are replayed first",
                "schema": {"type": "string"},
            }),
        });
    }
    if !op.keyless {
        parameters.push(json!({"$ref": "#/components/parameters/AgentId"}));
    }

    let mut responses = Map::new();
    let (code, success) = match op.reply {
        Reply::Model(name) => {
            ("200", json!({"description": "OK", "content": {"application/json": {"schema": reference(name)}}}))
        }
        Reply::List(name) => (
            "200",
            json!({"description": "OK", "content": {"application/json": {"schema": {"type": "array", "items": reference(name)}}}}),
        ),
        Reply::Json(build) => {
            ("200", json!({"description": "OK", "content": {"application/json": {"schema": build()}}}))
        }
        Reply::NoContent => ("204", json!({"description": "Done"})),
        Reply::Created(name) => {
            ("201", json!({"description": "Created", "content": {"application/json": {"schema": reference(name)}}}))
        }
        Reply::Stream(description) => (
            "200",
            json!({"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
        ),
    };
    let mut success = success;
    let links = links(ops, op.id);
    if !links.is_empty() {
        success["links"] = Value::Object(links);
    }
    responses.insert(code.to_owned(), success);
    let mut errors: Vec<u16> = op.errors.to_vec();
    if !op.keyless {
        errors.extend([400, 401, 403, 503]);
    }
    if op.path.contains('{') {
        errors.push(404);
    }
    if op.body.is_some() {
        errors.extend([413, 422]);
    }
    if !op.query.is_empty() {
        errors.push(422);
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({"description": status_text(status), "content": {"application/json": {"schema": reference("Error")}}}),
        );
    }

    let mut out = json!({
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
    });
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = op.body {
        out["requestBody"] = json!({
            "required": !body.empty_ok,
            "content": {"application/json": {"schema": reference(body.name)}},
        });
    }
    if op.keyless {
        out["security"] = json!([]);
    }
    out
}

/// Where the ids in a path come from: a response of `producer` names, for each path parameter,
/// the JSON pointer of its value. Every operation under `prefix` (whose path parameters are all
/// named here) gets an OpenAPI link from that response, so that tools (and readers) can chain
/// the calls.
struct LinkSource {
    producer: &'static str,
    prefix: &'static str,
    params: &'static [(&'static str, &'static str)],
}

const LINK_SOURCES: &[LinkSource] = &[
    LinkSource { producer: "createIntent", prefix: "/api/v1/intents/{id}", params: &[("id", "/id")] },
    LinkSource {
        producer: "acquireLease",
        prefix: "/api/v1/intents/{id}/leases/{lease_id}",
        params: &[("id", "/intent_id"), ("lease_id", "/id")],
    },
    LinkSource {
        producer: "assignAgent",
        prefix: "/api/v1/intents/{id}/agents/{agent_id}",
        params: &[("id", "/intent_id"), ("agent_id", "/agent_id")],
    },
    LinkSource {
        producer: "addAttachment",
        prefix: "/api/v1/intents/{id}/attachments/{attachment_id}",
        params: &[("id", "/intent_id"), ("attachment_id", "/id")],
    },
    LinkSource { producer: "createPortfolio", prefix: "/api/v1/portfolios/{id}", params: &[("id", "/id")] },
    LinkSource {
        producer: "addIntentToPortfolio",
        prefix: "/api/v1/portfolios/{id}/intents/{intent_id}",
        params: &[("id", "/portfolio_id"), ("intent_id", "/intent_id")],
    },
    LinkSource { producer: "createSubscription", prefix: "/api/v1/subscriptions/{id}", params: &[("id", "/id")] },
];

/// The links of `producer`'s success response (see [`LINK_SOURCES`]).
fn links(ops: &[Op], producer: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for source in LINK_SOURCES.iter().filter(|s| s.producer == producer) {
        for op in ops.iter().filter(|op| op.path.starts_with(source.prefix) && op.id != producer) {
            let wanted: Vec<String> =
                path_parameters(op.path).iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect();
            let mut parameters = Map::new();
            for name in &wanted {
                let Some((_, pointer)) = source.params.iter().find(|(n, _)| n == name) else { break };
                parameters.insert(name.clone(), json!(format!("$response.body#{pointer}")));
            }
            if parameters.len() == wanted.len() {
                out.insert(op.id.to_owned(), json!({"operationId": op.id, "parameters": parameters}));
            }
        }
    }
    out
}

/// The OpenAPI 3.1 document of this server.
///
/// Every route the server answers is listed (the tests check it against the router), with its
/// request body schema (from the server's own validation rules), its responses and their
/// statuses. Calls need the `X-API-Key` header unless their `security` is empty.
pub fn document() -> Value {
    let ops = operations();
    let mut paths = Map::new();
    for op in &ops {
        let item = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        item[op.method] = operation(&ops, op);
    }
    let mut schemas = Map::new();
    for model in MODELS {
        schemas.insert(model.name.to_owned(), (model.build)());
    }
    for op in &ops {
        if let Some(body) = op.body {
            schemas.insert(body.name.to_owned(), (body.build)());
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "OpenIntent Coordination Protocol",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API of the openintent-rs server: intents with versioned state, \
                an append-only event log, leases, arbitration, attachments, costs, retry policies, \
                portfolios, webhook subscriptions and server-sent event streams.",
        },
        "servers": [{"url": "/"}],
        "tags": TAGS.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "security": [{"ApiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "parameters": {
                "AgentId": {
                    "name": "X-Agent-ID", "in": "header", "required": false,
                    "description": "The acting agent (defaults to the API key, or the agent the key is bound to)",
                    "schema": {"type": "string", "maxLength": AGENT_ID_MAX_CHARS},
                },
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn operations_are_unique() {
        let mut keys = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for op in &operations() {
            assert!(keys.insert((op.method, op.path)), "{} {} listed twice", op.method, op.path);
            assert!(ids.insert(op.id), "operationId {} used twice", op.id);
        }
    }

    #[test]
    fn every_tag_is_listed_once_and_used() {
        let used: BTreeSet<&str> = operations().iter().map(|op| op.tag).collect();
        let listed: BTreeSet<&str> = TAGS.iter().copied().collect();
        assert_eq!(listed.len(), TAGS.len(), "a tag is listed twice");
        assert_eq!(used, listed);
    }

    #[test]
    fn created_ids_link_to_the_operations_that_take_them() {
        let doc = document();
        let created = &doc["paths"]["/api/v1/intents"]["post"]["responses"]["200"]["links"];
        assert_eq!(created["updateState"]["parameters"]["id"], "$response.body#/id");
        assert_eq!(created["listEvents"]["operationId"], "listEvents");
        // Operations that need another id too are linked from where that id comes from.
        assert!(created.get("renewLease").is_none(), "{created}");
        let lease = &doc["paths"]["/api/v1/intents/{id}/leases"]["post"]["responses"]["200"]["links"];
        assert_eq!(lease["renewLease"]["parameters"]["lease_id"], "$response.body#/id");
        assert_eq!(lease["renewLease"]["parameters"]["id"], "$response.body#/intent_id");
        // Every producer links somewhere.
        let ops = operations();
        for source in LINK_SOURCES {
            assert!(!links(&ops, source.producer).is_empty(), "{} links nowhere", source.producer);
        }
    }
}

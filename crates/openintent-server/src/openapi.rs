//! The OpenAPI 3.1 document, served keyless at `GET /openapi.json`.
//!
//! The document is generated from code, not kept as a file:
//!
//! - every operation comes from one table ([`OPERATIONS`]) of method, path, summary, request
//!   body, response, query parameters and headers; the integration tests check the table
//!   against the router in both directions (each operation is served, and each route the
//!   source registers is in the table), so a route cannot exist without being documented;
//! - request body schemas come from the same field lists the server validates bodies with
//!   ([`BodySchema::FIELDS`]): names, JSON kinds, which fields are required (optional ones
//!   also take `null`), and each field's value rule (not blank, length, enum, range, id,
//!   scope, media type, URL), which the request's `Validate` enforces;
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
use openintent_types::wire::{WireModel, to_superset_value};
use openintent_types::{
    AcquireLeaseRequest, AddIntentToPortfolioRequest, AgentAssignment, Arbitration, AssignAgentRequest, Attachment,
    CostRecord, CostSummary, CreateArbitrationRequest, CreateAttachmentRequest, CreateIntentRequest,
    CreatePortfolioRequest, CreateSubscriptionRequest, Decision, FailureRecord, Intent, IntentEvent, IntentStatus,
    Lease, LogEventRequest, PatchOp, Portfolio, PortfolioMembership, RecordCostRequest, RecordDecisionRequest,
    RecordFailureRequest, RenewLeaseRequest, RetryPolicy, SetRetryPolicyRequest, SetStatusRequest, Subscription,
    UpdatePortfolioStatusRequest, UpdateStateRequest,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::http::{BodySchema, Field, Kind, Rule};
use crate::state::AppState;

/// The route serving the document (keyless).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

// ----- the table ----------------------------------------------------------------------------

/// A named schema and the function that builds it.
#[derive(Clone, Copy)]
struct Schema {
    name: &'static str,
    build: fn() -> Value,
    /// A request body that may be left out (all defaults).
    empty_ok: bool,
}

/// What a successful call answers.
#[derive(Clone, Copy)]
enum Reply {
    /// 200 with one model.
    Model(&'static str),
    /// 200 with an array of a model.
    List(&'static str),
    /// 200 with a JSON value built by the function.
    Json(fn() -> Value),
    /// 204 without a body.
    NoContent,
    /// 200 with a server-sent event stream.
    Stream(&'static str),
}

/// A request header an operation reads.
#[derive(Clone, Copy, PartialEq)]
enum Header {
    /// `If-Match: "N"` (required).
    IfMatch,
    /// `Last-Event-ID` (optional).
    LastEventId,
}

/// A query parameter: name, schema, description. An empty value counts as absent.
type Query = (&'static str, fn() -> Value, &'static str);

fn q_string() -> Value {
    json!({"type": "string"})
}

fn q_limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 1000})
}

fn q_offset() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": i32::MAX})
}

fn q_intent_status() -> Value {
    let names: Vec<&str> = IntentStatus::KNOWN.iter().map(IntentStatus::as_str).collect();
    json!({"type": "string", "enum": names})
}

fn q_stream_from() -> Value {
    json!({"type": "string", "enum": ["start"]})
}

fn q_delivery_status() -> Value {
    json!({"type": "string", "enum": ["pending", "delivered", "failed", "cancelled"]})
}

/// One operation of the API.
#[derive(Clone, Copy)]
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    keyless: bool,
    body: Option<Schema>,
    reply: Reply,
    query: &'static [Query],
    headers: &'static [Header],
    /// Error statuses beyond the ones implied (401/403/503 when keyed, 404 with path
    /// parameters, 413/422 with a body or query).
    errors: &'static [u16],
}

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        summary,
        keyless: false,
        body: None,
        reply: Reply::Json(any_object),
        query: &[],
        headers: &[],
        errors: &[],
    }
}

impl Op {
    const fn keyless(mut self) -> Op {
        self.keyless = true;
        self
    }
    const fn body(mut self, schema: Schema) -> Op {
        self.body = Some(schema);
        self
    }
    const fn reply(mut self, reply: Reply) -> Op {
        self.reply = reply;
        self
    }
    const fn query(mut self, query: &'static [Query]) -> Op {
        self.query = query;
        self
    }
    const fn headers(mut self, headers: &'static [Header]) -> Op {
        self.headers = headers;
        self
    }
    const fn errors(mut self, errors: &'static [u16]) -> Op {
        self.errors = errors;
        self
    }
}

macro_rules! request {
    ($t:ident) => {
        Schema { name: stringify!($t), build: request_schema::<$t>, empty_ok: <$t as BodySchema>::EMPTY_OK }
    };
}

const INTENT_QUERY: &[Query] = &[
    ("status", q_intent_status, "Only intents with this status"),
    ("created_by", q_string, "Only intents created by this principal"),
    ("parent_id", q_string, "Only children of this intent (also read as `parent_intent_id`)"),
    ("limit", q_limit, "Page size, 1 to 1000 (default 50)"),
    ("offset", q_offset, "Intents to skip (default 0)"),
];

const EVENT_QUERY: &[Query] = &[
    ("event_type", q_string, "Only events of this type"),
    ("since", timestamp_input_schema, "Only events created after this timestamp"),
    ("limit", q_limit, "Page size, 1 to 1000 (default 100)"),
    ("offset", q_offset, "Events to skip (default 0)"),
];

const SUBSCRIPTION_QUERY: &[Query] = &[
    ("intent_id", q_string, "Only subscriptions of this intent"),
    ("portfolio_id", q_string, "Only subscriptions of this portfolio"),
    ("subscriber_id", q_string, "Only subscriptions of this subscriber"),
];

const DELIVERY_QUERY: &[Query] = &[
    ("status", q_delivery_status, "Only deliveries with this status"),
    ("limit", q_limit, "Page size, 1 to 1000 (default 50)"),
    ("offset", q_offset, "Deliveries to skip (default 0)"),
];

/// The query of the event streams.
const STREAM_QUERY: &[Query] = &[(
    "from",
    q_stream_from,
    "`start`: first replay the whole stream (an intent's whole event log), then go on live; a \
     `Last-Event-ID` of the stream takes precedence",
)];

const INTENT_STREAM: &str = "Server-sent events of one intent: every event appended to its log, in log order, \
    named after its type, with the log's event id as `id:` (replayed from the start and then followed, the \
    stream is exactly the event log). `state_patched` and `status_changed` carry the intent after the change; \
    every other event (`intent_created`, events logged through `POST /api/v1/intents/{id}/events`, \
    `agent_assigned`, `lease_acquired`, `decision_recorded`, ...) carries the event. Reconnecting with \
    `Last-Event-ID` first replays the messages missed since that id. The stream subscribes before it \
    answers: every change committed after the 200 is on it. `: ping` comments keep an idle stream open.";
const PORTFOLIO_STREAM: &str = "Server-sent events of one portfolio: `intent_added` and `intent_removed` \
    (data = `{\"portfolio_id\", \"intent_id\"}`). Each message has an `id:`; reconnecting with \
    `Last-Event-ID` first replays the messages missed since that id.";
const AGENT_STREAM: &str = "Server-sent events of one agent: `agent_assigned` (data = the assignment). Each \
    message has an `id:` (the assignment's event-log id); reconnecting with `Last-Event-ID` first replays the \
    messages missed since that id.";

/// Every operation the server answers.
const OPERATIONS: &[Op] = &[
    // Discovery and service.
    op("get", "/.well-known/openintent.json", "discovery", "discovery", "Protocol discovery document")
        .keyless()
        .reply(Reply::Json(discovery_schema)),
    op("get", "/.well-known/openintent-compat.json", "compatibility", "discovery", "RFC compliance and features")
        .keyless(),
    op("get", "/api/v1/server/config", "serverConfig", "discovery", "Server configuration").keyless(),
    op("get", "/health", "health", "discovery", "Liveness and database reachability")
        .keyless()
        .reply(Reply::Json(health_schema))
        .errors(&[503]),
    op("get", "/openapi.json", "openapi", "discovery", "This OpenAPI document").keyless(),
    // Intents.
    op("post", "/api/v1/intents", "createIntent", "intents", "Create an intent")
        .body(request!(CreateIntentRequest))
        .reply(Reply::Model("Intent")),
    op("get", "/api/v1/intents", "listIntents", "intents", "List intents, newest first")
        .query(INTENT_QUERY)
        .reply(Reply::Json(intent_page_schema)),
    op("get", "/api/v1/intents/{id}", "getIntent", "intents", "Read an intent (with its `ETag`)")
        .reply(Reply::Model("Intent")),
    op("post", "/api/v1/intents/{id}/state", "updateState", "intents", "Patch the state (version-checked)")
        .body(request!(UpdateStateRequest))
        .headers(&[Header::IfMatch])
        .reply(Reply::Model("Intent"))
        .errors(&[400, 409]),
    op("post", "/api/v1/intents/{id}/status", "setStatus", "intents", "Change the status (version-checked)")
        .body(request!(SetStatusRequest))
        .headers(&[Header::IfMatch])
        .reply(Reply::Model("Intent"))
        .errors(&[400, 409]),
    op("get", "/api/v1/intents/{id}/portfolios", "intentPortfolios", "portfolios", "Portfolios holding an intent")
        .reply(Reply::List("Portfolio")),
    // Events.
    op("post", "/api/v1/intents/{id}/events", "logEvent", "events", "Append an event to the log")
        .body(request!(LogEventRequest))
        .reply(Reply::Model("IntentEvent")),
    op("get", "/api/v1/intents/{id}/events", "listEvents", "events", "Read the event log, newest first")
        .query(EVENT_QUERY)
        .reply(Reply::List("IntentEvent")),
    // Agents.
    op("post", "/api/v1/intents/{id}/agents", "assignAgent", "agents", "Assign an agent (default: the caller)")
        .body(request!(AssignAgentRequest))
        .reply(Reply::Model("AgentAssignment")),
    op("get", "/api/v1/intents/{id}/agents", "listAgents", "agents", "Agents assigned to an intent")
        .reply(Reply::List("AgentAssignment")),
    op("delete", "/api/v1/intents/{id}/agents/{agent_id}", "unassignAgent", "agents", "Unassign an agent")
        .reply(Reply::NoContent),
    // Leases.
    op("post", "/api/v1/intents/{id}/leases", "acquireLease", "leases", "Acquire the lease of a scope")
        .body(request!(AcquireLeaseRequest))
        .reply(Reply::Model("Lease"))
        .errors(&[409]),
    op("get", "/api/v1/intents/{id}/leases", "listLeases", "leases", "Leases of an intent")
        .query(&[("status", q_string, "Only leases with this derived status (active, expired, released)")])
        .reply(Reply::List("Lease")),
    op("patch", "/api/v1/intents/{id}/leases/{lease_id}", "renewLease", "leases", "Renew a lease you hold")
        .body(request!(RenewLeaseRequest))
        .reply(Reply::Model("Lease"))
        .errors(&[409]),
    op("delete", "/api/v1/intents/{id}/leases/{lease_id}", "releaseLease", "leases", "Release a lease you hold")
        .reply(Reply::Json(release_schema)),
    // Arbitration and decisions.
    op("post", "/api/v1/intents/{id}/arbitrate", "requestArbitration", "governance", "Request arbitration")
        .body(request!(CreateArbitrationRequest))
        .reply(Reply::Model("Arbitration")),
    op("get", "/api/v1/intents/{id}/arbitrations", "listArbitrations", "governance", "Arbitration requests")
        .reply(Reply::List("Arbitration")),
    op("post", "/api/v1/intents/{id}/decisions", "recordDecision", "governance", "Record a decision")
        .body(request!(RecordDecisionRequest))
        .reply(Reply::Model("Decision")),
    op("get", "/api/v1/intents/{id}/decisions", "listDecisions", "governance", "Decisions of an intent")
        .reply(Reply::List("Decision")),
    // Attachments.
    op("post", "/api/v1/intents/{id}/attachments", "addAttachment", "attachments", "Attach a file reference")
        .body(request!(CreateAttachmentRequest))
        .reply(Reply::Model("Attachment")),
    op("get", "/api/v1/intents/{id}/attachments", "listAttachments", "attachments", "Attachments of an intent")
        .reply(Reply::List("Attachment")),
    op(
        "delete",
        "/api/v1/intents/{id}/attachments/{attachment_id}",
        "deleteAttachment",
        "attachments",
        "Delete an attachment",
    )
    .reply(Reply::NoContent),
    // Costs.
    op("post", "/api/v1/intents/{id}/costs", "recordCost", "costs", "Record a cost")
        .body(request!(RecordCostRequest))
        .reply(Reply::Model("CostRecord")),
    op("get", "/api/v1/intents/{id}/costs", "listCosts", "costs", "Costs of an intent")
        .reply(Reply::List("CostRecord")),
    op("get", "/api/v1/intents/{id}/costs/summary", "costSummary", "costs", "Totals per type, agent and unit")
        .reply(Reply::Model("CostSummary")),
    // Retry policies and failures.
    op("put", "/api/v1/intents/{id}/retry-policy", "setRetryPolicy", "retries", "Set the retry policy")
        .body(request!(SetRetryPolicyRequest))
        .reply(Reply::Model("RetryPolicy")),
    op("get", "/api/v1/intents/{id}/retry-policy", "getRetryPolicy", "retries", "Read the retry policy")
        .reply(Reply::Model("RetryPolicy")),
    op("post", "/api/v1/intents/{id}/failures", "recordFailure", "retries", "Record a failure")
        .body(request!(RecordFailureRequest))
        .reply(Reply::Model("FailureRecord")),
    op("get", "/api/v1/intents/{id}/failures", "listFailures", "retries", "Failures of an intent")
        .reply(Reply::List("FailureRecord")),
    // Portfolios.
    op("post", "/api/v1/portfolios", "createPortfolio", "portfolios", "Create a portfolio")
        .body(request!(CreatePortfolioRequest))
        .reply(Reply::Model("Portfolio")),
    op("get", "/api/v1/portfolios", "listPortfolios", "portfolios", "List portfolios")
        .query(&[("created_by", q_string, "Only portfolios created by this principal")])
        .reply(Reply::List("Portfolio")),
    op("get", "/api/v1/portfolios/{id}", "getPortfolio", "portfolios", "Read a portfolio with its intents")
        .reply(Reply::Model("Portfolio")),
    op("patch", "/api/v1/portfolios/{id}/status", "updatePortfolioStatus", "portfolios", "Change a portfolio's status")
        .body(request!(UpdatePortfolioStatusRequest))
        .reply(Reply::Model("Portfolio")),
    op("post", "/api/v1/portfolios/{id}/intents", "addIntentToPortfolio", "portfolios", "Add an intent")
        .body(request!(AddIntentToPortfolioRequest))
        .reply(Reply::Model("PortfolioMembership"))
        .errors(&[409]),
    op("get", "/api/v1/portfolios/{id}/intents", "portfolioIntents", "portfolios", "Intents of a portfolio")
        .reply(Reply::List("Intent")),
    op(
        "delete",
        "/api/v1/portfolios/{id}/intents/{intent_id}",
        "removeIntentFromPortfolio",
        "portfolios",
        "Remove an intent",
    )
    .reply(Reply::Json(message_schema)),
    // Webhook subscriptions.
    op("post", "/api/v1/subscriptions", "createSubscription", "subscriptions", "Create a webhook subscription")
        .body(request!(CreateSubscriptionRequest))
        .errors(&[404])
        .reply(Reply::Json(created_subscription_schema)),
    op("get", "/api/v1/subscriptions", "listSubscriptions", "subscriptions", "List webhook subscriptions")
        .query(SUBSCRIPTION_QUERY)
        .reply(Reply::Json(subscription_page_schema)),
    op("delete", "/api/v1/subscriptions/{id}", "deleteSubscription", "subscriptions", "Delete a subscription")
        .reply(Reply::NoContent),
    op(
        "get",
        "/api/v1/subscriptions/{id}/deliveries",
        "listSubscriptionDeliveries",
        "subscriptions",
        "A subscription's webhook deliveries, newest first (its subscriber only)",
    )
    .query(DELIVERY_QUERY)
    .reply(Reply::Json(delivery_page_schema)),
    // Server-sent event streams (and their aliases).
    op("get", "/api/v1/subscribe/intents/{id}", "streamIntent", "streams", "Stream an intent's changes")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(INTENT_STREAM)),
    op("get", "/api/v1/intents/{id}/subscribe", "streamIntentAlias", "streams", "Stream an intent's changes (alias)")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(INTENT_STREAM)),
    op("get", "/api/v1/subscribe/portfolios/{id}", "streamPortfolio", "streams", "Stream a portfolio's membership")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(PORTFOLIO_STREAM)),
    op(
        "get",
        "/api/v1/portfolios/{id}/subscribe",
        "streamPortfolioAlias",
        "streams",
        "Stream a portfolio's membership (alias)",
    )
    .headers(&[Header::LastEventId])
    .query(STREAM_QUERY)
    .reply(Reply::Stream(PORTFOLIO_STREAM)),
    op("get", "/api/v1/subscribe/agents/{id}", "streamAgent", "streams", "Stream an agent's assignments")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(AGENT_STREAM)),
    op("get", "/api/v1/agents/{id}/subscribe", "streamAgentAlias", "streams", "Stream an agent's assignments (alias)")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(AGENT_STREAM)),
];

/// The models answered by the API, as `components.schemas`.
const MODELS: &[Schema] = &[
    Schema { name: "Intent", build: wire_model::<Intent>, empty_ok: false },
    Schema { name: "IntentEvent", build: wire_model::<IntentEvent>, empty_ok: false },
    Schema { name: "AgentAssignment", build: wire_model::<AgentAssignment>, empty_ok: false },
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
    Schema { name: "Error", build: error_schema, empty_ok: false },
];

// ----- schema builders ----------------------------------------------------------------------

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn any_object() -> Value {
    json!({"type": "object"})
}

/// The characters Rust's `char::is_whitespace` matches (Unicode White_Space), as ranges.
const WHITESPACE: &[(char, char)] = &[
    ('\t', '\r'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// [`WHITESPACE`] as the body of a regular-expression class, in `\uXXXX` escapes that
/// ECMA-262 and Python read alike.
fn whitespace_class() -> String {
    WHITESPACE
        .iter()
        .map(|&(a, b)| {
            let esc = |c: char| format!("\\u{:04x}", u32::from(c));
            if a == b { esc(a) } else { format!("{}-{}", esc(a), esc(b)) }
        })
        .collect()
}

/// A timestamp the server writes: ISO 8601 in UTC without an offset.
fn timestamp_schema() -> Value {
    json!({
        "type": "string",
        "description": "A UTC timestamp, ISO 8601 without an offset (such as 2026-11-24T13:46:05.778066)",
    })
}

/// A timestamp the server reads: RFC 3339, or ISO 8601 without an offset (then UTC).
fn timestamp_input_schema() -> Value {
    json!({
        "type": "string",
        "format": "date-time",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}",
        "description": "An RFC 3339 timestamp such as 2026-11-24T13:46:05Z; one without an offset \
                        (2026-11-24T13:46:05.778066) is also read, as UTC",
    })
}

/// A string with a character that is not whitespace (what `trim` leaves non-empty).
fn not_blank(m: &mut Map<String, Value>) {
    m.insert("minLength".into(), json!(1));
    m.insert("pattern".into(), json!(format!("[^{}]", whitespace_class())));
}

/// Adds `constraint` to the schema's `allOf` list.
fn all_of(m: &mut Map<String, Value>, constraint: Value) {
    match m.entry("allOf").or_insert_with(|| json!([])) {
        Value::Array(list) => list.push(constraint),
        other => *other = json!([constraint]),
    }
}

/// The schema of one request field: its kind, narrowed by its rule; `null` is accepted (as
/// absent) for optional fields.
fn field_schema(field: &Field) -> Value {
    let mut schema = kind_schema(field.kind());
    let Value::Object(m) = &mut schema else { return schema };
    match field.rule() {
        Rule::Any => {}
        Rule::Text(max) => {
            not_blank(m);
            if let Some(max) = max {
                m.insert("maxLength".into(), json!(max));
            }
        }
        Rule::Id(max) => {
            not_blank(m);
            m.insert("maxLength".into(), json!(max));
            all_of(m, json!({"not": {"type": "string", "pattern": "[/?#\\u0000-\\u001f\\u007f-\\u009f]"}}));
        }
        Rule::Scope(max) => {
            not_blank(m);
            m.insert("maxLength".into(), json!(max));
            all_of(m, json!({"not": {"type": "string", "pattern": "[\\u0000-\\u001f\\u007f-\\u009f]"}}));
        }
        Rule::Mime(max) => {
            m.insert("maxLength".into(), json!(max));
            // Something that is not whitespace before the first `/`, and after it.
            let ws = whitespace_class();
            m.insert("pattern".into(), json!(format!("^[^/]*[^/{ws}][^/]*/[\\s\\S]*[^{ws}]")));
        }
        Rule::HttpUrl => {
            m.insert("format".into(), json!("uri"));
            // A plain host name, an optional port and a simple path: what every URL parser reads
            // alike. The server also accepts other URLs its parser reads.
            m.insert(
                "pattern".into(),
                json!("^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"),
            );
        }
        Rule::OneOf(names) => {
            let mut names: Vec<Value> = names().into_iter().map(Value::from).collect();
            if !field.required() {
                names.push(Value::Null);
            }
            m.insert("enum".into(), Value::Array(names));
        }
        Rule::Range(min, max) => {
            let integer = matches!(field.kind(), Kind::Int);
            let bound = |v: f64| if integer { json!(v as i64) } else { json!(v) };
            if let Some(min) = min {
                m.insert("minimum".into(), bound(min));
            }
            if let Some(max) = max {
                m.insert("maximum".into(), bound(max));
            }
        }
    }
    if !field.required()
        && let Some(t) = m.get_mut("type")
    {
        *t = match t.take() {
            Value::Array(mut list) => {
                list.push(json!("null"));
                Value::Array(list)
            }
            one => json!([one, "null"]),
        };
    }
    schema
}

fn kind_schema(kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({"type": "string"}),
        Kind::Time => timestamp_input_schema(),
        Kind::Int => json!({"type": "integer"}),
        Kind::Num => json!({"type": "number"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Obj => json!({"type": "object"}),
        Kind::ObjOrList => json!({"type": ["object", "array"]}),
        Kind::List => json!({"type": "array"}),
        Kind::StrList => json!({"type": "array", "items": {"type": "string"}}),
        Kind::Patches => {
            let ops: Vec<&str> = PatchOp::KNOWN.iter().map(PatchOp::as_str).collect();
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ops},
                        "path": {
                            "type": "string",
                            "description": "An RFC 6901 JSON pointer (empty: the whole state, for `set` only)",
                            "pattern": "^(/([^~]|~[01])*)*$",
                        },
                        "value": {},
                    },
                    "required": ["op", "path"],
                    "if": {"properties": {"op": {"const": "set"}}},
                    "else": {"properties": {"path": {"minLength": 1}}},
                },
            })
        }
        Kind::Options => json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "rationale": {"type": ["string", "null"]}},
                "required": ["label"],
            },
        }),
    }
}

/// The schema of a request body, from the field list the server validates it with.
fn request_schema<T: BodySchema>() -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in T::FIELDS {
        let mut schema = field_schema(field);
        let aliases: Vec<&str> = T::READ_ALIASES
            .iter()
            .filter(|(canonical, _)| *canonical == field.name())
            .flat_map(|(_, synonyms)| synonyms.iter().copied())
            .collect();
        if !aliases.is_empty()
            && let Value::Object(m) = &mut schema
        {
            m.insert("description".into(), json!(format!("Also read as: {}", aliases.join(", "))));
        }
        properties.insert(field.name().to_owned(), schema);
        if field.required() {
            required.push(field.name());
        }
    }
    let mut schema = json!({"type": "object", "properties": properties, "required": required});
    if let (Some(Value::Object(extra)), Value::Object(m)) = (T::schema_extra(), &mut schema) {
        m.extend(extra);
    }
    schema
}

/// The schema of a model, from its default instance in the superset wire form.
fn wire_model<T: Default + Serialize + WireModel>() -> Value {
    infer(&to_superset_value(&T::default()))
}

/// The schema of a plain serialized model.
fn plain_model<T: Default + Serialize>() -> Value {
    infer(&serde_json::to_value(T::default()).unwrap_or(Value::Null))
}

/// A JSON schema describing the shape of an example value.
fn infer(value: &Value) -> Value {
    match value {
        // A field without a default value: any JSON value (usually optional).
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        Value::String(s) if openintent_types::time::parse_timestamp(s).is_ok() => timestamp_schema(),
        Value::String(_) => json!({"type": "string"}),
        Value::Array(items) => match items.first() {
            Some(first) => json!({"type": "array", "items": infer(first)}),
            None => json!({"type": "array"}),
        },
        Value::Object(map) if map.is_empty() => json!({"type": "object"}),
        Value::Object(map) => {
            let properties: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), infer(v))).collect();
            json!({"type": "object", "properties": properties})
        }
    }
}

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

fn discovery_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "protocol": {"type": "string"},
            "version": {"type": "string"},
            "rfcUrls": {"type": "array", "items": {"type": "string"}},
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "openApiUrl": {"type": "string"},
        },
    })
}

fn health_schema() -> Value {
    json!({"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]})
}

fn message_schema() -> Value {
    json!({"type": "object", "properties": {"message": {"type": "string"}}})
}

fn release_schema() -> Value {
    json!({"type": "object", "properties": {"message": {"type": "string"}, "lease_id": {"type": "string"}}})
}

fn intent_page_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "intents": {"type": "array", "items": reference("Intent")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
        "required": ["intents", "total"],
    })
}

/// The created subscription, with the webhook signing secret (returned only here).
fn created_subscription_schema() -> Value {
    json!({
        "allOf": [
            reference("Subscription"),
            {
                "type": "object",
                "properties": {"secret": {
                    "type": "string",
                    "description": "The HMAC-SHA256 key of the X-OpenIntent-Signature header of webhook deliveries. \
                                    Returned once, on creation; never listed again.",
                }},
                "required": ["secret"],
            },
        ],
    })
}

fn subscription_page_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"subscriptions": {"type": "array", "items": reference("Subscription")}},
        "required": ["subscriptions"],
    })
}

/// A page of a subscription's webhook deliveries.
fn delivery_page_schema() -> Value {
    let time = timestamp_schema();
    let nullable = |t: &str| json!({"type": [t, "null"]});
    let mut nullable_time = timestamp_schema();
    nullable_time["type"] = json!(["string", "null"]);
    let delivery = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The delivery id (the X-OpenIntent-Delivery header)"},
            "event_id": {"type": "string"},
            "event_type": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed", "cancelled"]},
            "attempts": {"type": "integer"},
            "last_error": nullable("string"),
            "last_status": {"type": ["integer", "null"], "description": "HTTP status of the last attempt"},
            "next_attempt_at": nullable_time,
            "created_at": time,
            "delivered_at": nullable_time,
        },
        "required": ["id", "event_id", "event_type", "status", "attempts", "created_at"],
    });
    json!({
        "type": "object",
        "properties": {
            "deliveries": {"type": "array", "items": delivery},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
        "required": ["deliveries", "total"],
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

fn operation(op: &Op) -> Value {
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
                "schema": {"type": "string", "pattern": "^(W/)?(\"[0-9]{1,18}\"|[0-9]{1,18})$"},
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
        Reply::Stream(description) => (
            "200",
            json!({"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
        ),
    };
    let mut success = success;
    let links = links(op.id);
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
fn links(producer: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for source in LINK_SOURCES.iter().filter(|s| s.producer == producer) {
        for op in OPERATIONS.iter().filter(|op| op.path.starts_with(source.prefix) && op.id != producer) {
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
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        item[op.method] = operation(op);
    }
    let mut schemas = Map::new();
    for model in MODELS {
        schemas.insert(model.name.to_owned(), (model.build)());
    }
    for op in OPERATIONS {
        if let Some(body) = op.body {
            schemas.insert(body.name.to_owned(), (body.build)());
        }
    }
    let mut tags: Vec<&str> = OPERATIONS.iter().map(|op| op.tag).collect();
    tags.dedup();
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(*t));
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
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
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
                    "schema": {"type": "string", "maxLength": 255},
                },
            },
            "schemas": schemas,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_unique() {
        let mut keys = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for op in OPERATIONS {
            assert!(keys.insert((op.method, op.path)), "{} {} listed twice", op.method, op.path);
            assert!(ids.insert(op.id), "operationId {} used twice", op.id);
        }
    }

    #[test]
    fn request_schema_follows_validation() {
        let s = request_schema::<CreateIntentRequest>();
        assert_eq!(s["required"], json!(["title"]));
        assert_eq!(s["properties"]["title"]["type"], "string");
        assert_eq!(s["properties"]["depends_on"]["items"]["type"], "string");
        let s = request_schema::<UpdateStateRequest>();
        assert_eq!(s["properties"]["patches"]["items"]["required"], json!(["op", "path"]));
    }

    #[test]
    fn the_whitespace_class_is_rusts() {
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            let listed = WHITESPACE.iter().any(|&(a, b)| (a..=b).contains(&c));
            assert_eq!(listed, c.is_whitespace(), "{c:?}");
        }
        assert!(whitespace_class().starts_with("\\u0009-\\u000d\\u0020"), "{}", whitespace_class());
    }

    #[test]
    fn field_rules_become_schema_constraints() {
        let s = request_schema::<CreateIntentRequest>();
        let title = &s["properties"]["title"];
        assert_eq!(
            (title["type"].clone(), title["minLength"].clone(), title["maxLength"].clone()),
            (json!("string"), json!(1), json!(500))
        );
        assert!(title["pattern"].as_str().unwrap().starts_with("[^\\u0009"), "{title}");
        // Optional fields also take null (read as absent); an id may not hold `/`, `?`, `#`.
        let parent = &s["properties"]["parent_intent_id"];
        assert_eq!(parent["type"], json!(["string", "null"]));
        assert_eq!(parent["allOf"][0]["not"]["type"], "string");
        assert_eq!(s["properties"]["status"]["enum"].as_array().unwrap().last(), Some(&Value::Null));
        let lease = request_schema::<AcquireLeaseRequest>();
        assert_eq!(lease["properties"]["duration_seconds"]["maximum"], json!(openintent_types::MAX_LEASE_SECONDS));
        // A scope is free text: not blank, at most 255 characters, no control characters.
        let scope = &lease["properties"]["scope"];
        assert_eq!((scope["minLength"].clone(), scope["maxLength"].clone()), (json!(1), json!(255)), "{scope}");
        assert_eq!(scope["allOf"][0]["not"]["pattern"], "[\\u0000-\\u001f\\u007f-\\u009f]");
        let state = request_schema::<UpdateStateRequest>();
        assert_eq!(state["anyOf"].as_array().map(Vec::len), Some(2), "{state}");
        let policy = request_schema::<SetRetryPolicyRequest>();
        assert!(policy["properties"]["strategy"]["enum"].as_array().unwrap().contains(&json!("exponential")));
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
        for source in LINK_SOURCES {
            assert!(!links(source.producer).is_empty(), "{} links nowhere", source.producer);
        }
    }

    #[test]
    fn model_schema_from_defaults() {
        let s = wire_model::<Intent>();
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["title"]["type"], "string");
        assert_eq!(s["properties"]["version"]["type"], "integer");
        assert!(s["properties"].get("parent_intent_id").is_some(), "{s}");
        assert!(s["properties"]["created_at"]["description"].as_str().unwrap().contains("without an offset"), "{s}");
    }
}

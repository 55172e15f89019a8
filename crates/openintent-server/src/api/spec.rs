//! The vocabulary an area describes its operations in, for the OpenAPI document ([`super::openapi`]):
//! an [`Op`] per method and path (summary, request body, reply, query parameters, headers, extra
//! error statuses), and the JSON schemas of request bodies (from the field declaration the server
//! and the request's `Validate` enforce:
//! [`RequestSchema::FIELDS`](openintent_types::schema::RequestSchema::FIELDS), each field in the
//! types crate's JSON Schema ([`openintent_types::schema::json`])) and of models
//! (from the serialized `Default` instance of each, in the superset wire form the server writes).

use openintent_types::schema::json::{Side, field_schema};
use openintent_types::wire::{WireModel, to_superset_value};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A timestamp the server reads: RFC 3339, or ISO 8601 without an offset (then UTC).
pub(super) use openintent_types::schema::json::timestamp_input_schema;

use super::extract::{BodySchema, IntParam};

// ----- operations ---------------------------------------------------------------------------

/// A named schema and the function that builds it.
#[derive(Clone, Copy)]
pub(super) struct Schema {
    pub(super) name: &'static str,
    pub(super) build: fn() -> Value,
    /// A request body that may be left out (all defaults).
    pub(super) empty_ok: bool,
}

/// What a successful call answers.
#[derive(Clone, Copy)]
pub(super) enum Reply {
    /// 200 with one model.
    Model(&'static str),
    /// 200 with an array of a model.
    List(&'static str),
    /// 200 with a JSON value built by the function.
    Json(fn() -> Value),
    /// 204 without a body.
    NoContent,
    /// 201 with one model.
    Created(&'static str),
    /// 200 with a server-sent event stream.
    Stream(&'static str),
}

/// A request header an operation reads.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Header {
    /// `If-Match: "N"` (required).
    IfMatch,
    /// `Last-Event-ID` (optional).
    LastEventId,
}

/// A query parameter: name, schema, description. An empty value counts as absent.
pub(super) type Query = (&'static str, fn() -> Value, &'static str);

/// A string query parameter.
pub(super) fn q_string() -> Value {
    json!({"type": "string"})
}

/// Declares an [`IntParam`] and the schema function a [`Query`] entry names.
macro_rules! int_param {
    ($(#[$doc:meta])* $konst:ident, $schema:ident: $name:literal, default $default:expr, $min:expr, $max:expr) => {
        $(#[$doc])*
        pub(crate) const $konst: IntParam = IntParam { name: $name, default: $default, min: $min, max: $max };
        #[doc = concat!("The schema of [`", stringify!($konst), "`].")]
        pub(super) fn $schema() -> Value {
            $konst.schema()
        }
    };
}

/// The largest offset a page takes.
const MAX_OFFSET: i64 = i32::MAX as i64;

int_param!(
    /// The `limit` of a page of intents, subscriptions or deliveries.
    LIMIT_50, q_limit_50: "limit", default 50, 1, 1000
);
int_param!(
    /// The `limit` of a page of events.
    LIMIT_100, q_limit_100: "limit", default 100, 1, 1000
);
int_param!(
    /// The `offset` of a page.
    OFFSET, q_offset: "offset", default 0, 0, MAX_OFFSET
);
int_param!(
    /// The least free capacity of the agents listed.
    MIN_CAPACITY, q_min_capacity: "min_available_capacity", default 0, 0, MAX_OFFSET
);

/// One operation of the API.
#[derive(Clone, Copy)]
pub(super) struct Op {
    pub(super) method: &'static str,
    pub(super) path: &'static str,
    pub(super) id: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    pub(super) keyless: bool,
    pub(super) body: Option<Schema>,
    pub(super) reply: Reply,
    pub(super) query: &'static [Query],
    pub(super) headers: &'static [Header],
    /// Error statuses beyond the ones implied (401/403/503 when keyed, 404 with path
    /// parameters, 413/422 with a body or query).
    pub(super) errors: &'static [u16],
}

/// An operation that needs a key and answers 200 with a JSON object; the methods below add the rest.
pub(super) const fn op(
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
    pub(super) const fn keyless(mut self) -> Op {
        self.keyless = true;
        self
    }
    pub(super) const fn body(mut self, schema: Schema) -> Op {
        self.body = Some(schema);
        self
    }
    pub(super) const fn reply(mut self, reply: Reply) -> Op {
        self.reply = reply;
        self
    }
    pub(super) const fn query(mut self, query: &'static [Query]) -> Op {
        self.query = query;
        self
    }
    pub(super) const fn headers(mut self, headers: &'static [Header]) -> Op {
        self.headers = headers;
        self
    }
    pub(super) const fn errors(mut self, errors: &'static [u16]) -> Op {
        self.errors = errors;
        self
    }
}

/// The [`Schema`] of a request body type, from the field list the server validates it with.
macro_rules! request {
    ($t:ident) => {
        $crate::api::spec::Schema {
            name: stringify!($t),
            build: $crate::api::spec::request_schema::<$t>,
            empty_ok: <$t as openintent_types::schema::RequestSchema>::EMPTY_OK,
        }
    };
}
pub(super) use request;

// ----- schema builders ----------------------------------------------------------------------

/// A `$ref` to a schema of the document's components.
pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Any JSON object.
pub(super) fn any_object() -> Value {
    json!({"type": "object"})
}

/// A timestamp the server writes: ISO 8601 in UTC without an offset.
pub(super) fn timestamp_schema() -> Value {
    json!({
        "type": "string",
        "description": "A UTC timestamp, ISO 8601 without an offset (such as 2026-11-24T13:46:05.778066)",
    })
}

/// The schema of a request body, from the field list the server validates it with.
pub(super) fn request_schema<T: BodySchema>() -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in T::FIELDS {
        let mut schema = field_schema(field, Side::Server);
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
pub(super) fn wire_model<T: Default + Serialize + WireModel>() -> Value {
    infer(&to_superset_value(&T::default()))
}

/// The schema of a plain serialized model.
pub(super) fn plain_model<T: Default + Serialize>() -> Value {
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

#[cfg(test)]
mod tests {
    use openintent_types::{
        AcquireLeaseRequest, CreateIntentRequest, Intent, SetRetryPolicyRequest, UpdateStateRequest,
    };

    use super::*;

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
    fn model_schema_from_defaults() {
        let s = wire_model::<Intent>();
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["title"]["type"], "string");
        assert_eq!(s["properties"]["version"]["type"], "integer");
        assert!(s["properties"].get("parent_intent_id").is_some(), "{s}");
        assert!(s["properties"]["created_at"]["description"].as_str().unwrap().contains("without an offset"), "{s}");
    }
}

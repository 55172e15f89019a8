//! The JSON Schema (2020-12, the dialect of OpenAPI 3.1 and MCP tool inputs) of each request
//! field declared in [`RequestSchema::FIELDS`](super::RequestSchema::FIELDS): the schema of its
//! [`Kind`], narrowed by its [`Rule`], so that whoever documents a request (a server's OpenAPI
//! document, an MCP server's tool inputs) describes what [`check_schema`](super::check_schema)
//! and [`check_rules`](super::check_rules) enforce.
//!
//! ```
//! use openintent_types::AcquireLeaseRequest;
//! use openintent_types::schema::RequestSchema;
//! use openintent_types::schema::json::{Side, field_schema};
//!
//! let scope = AcquireLeaseRequest::FIELDS.iter().find(|f| f.name() == "scope").unwrap();
//! let schema = field_schema(scope, Side::Server);
//! assert_eq!(schema["type"], "string");
//! assert_eq!(schema["maxLength"], 255);
//! ```

use serde_json::{Map, Value, json};

use super::{Field, Kind, Rule};
use crate::patch::PatchOp;

/// Whose input a field schema describes; it decides how an open list of names
/// ([`Field::open`]) is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Side {
    /// What a server built on this crate accepts: it refuses names an open list does not know,
    /// so the list is an `enum`.
    Server,
    /// What a client may send to any server (one newer than this crate may know more names):
    /// an open list is named in the `description`, and any string is valid.
    Client,
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

/// The whitespace characters (those Rust's `char::is_whitespace` matches) as the body of a
/// regular-expression class, in `\uXXXX` escapes that ECMA-262, Python and Rust's `regex` read
/// alike.
pub fn whitespace_class() -> String {
    WHITESPACE
        .iter()
        .map(|&(a, b)| {
            let esc = |c: char| format!("\\u{:04x}", u32::from(c));
            if a == b { esc(a) } else { format!("{}-{}", esc(a), esc(b)) }
        })
        .collect()
}

/// A timestamp as requests may carry it ([`Kind::Time`]): RFC 3339, or ISO 8601 without an
/// offset (then UTC).
pub fn timestamp_input_schema() -> Value {
    json!({
        "type": "string",
        "format": "date-time",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}",
        "description": "An RFC 3339 timestamp such as 2026-11-24T13:46:05Z; one without an offset \
                        (2026-11-24T13:46:05.778066) is also read, as UTC",
    })
}

/// The schema of a [`Kind`] of value, before any [`Rule`] narrows it.
pub fn kind_schema(kind: Kind) -> Value {
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

/// The schema of one request field: its [`kind_schema`], narrowed by its [`Rule`]; an
/// optional field also accepts `null` (read as absent). `side` decides how an open list of
/// names is shown ([`Side`]).
pub fn field_schema(field: &Field, side: Side) -> Value {
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
            // alike. The validation also accepts other URLs its parser reads.
            m.insert(
                "pattern".into(),
                json!("^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"),
            );
        }
        Rule::OneOf(names) if field.is_open() && side == Side::Client => {
            m.insert("description".into(), json!(format!("Known values: {}", names().join(", "))));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{RequestSchema, opt, req};
    use crate::{AcquireLeaseRequest, CreateIntentRequest, SetStatusRequest};

    fn field<T: RequestSchema>(name: &str) -> &'static Field {
        T::FIELDS.iter().find(|f| f.name() == name).unwrap()
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
    fn rules_narrow_the_kind_and_optional_fields_take_null() {
        let title = field_schema(field::<CreateIntentRequest>("title"), Side::Server);
        assert_eq!(
            (&title["type"], &title["minLength"], &title["maxLength"]),
            (&json!("string"), &json!(1), &json!(500))
        );
        assert!(title["pattern"].as_str().unwrap().starts_with("[^\\u0009"), "{title}");
        let parent = field_schema(field::<CreateIntentRequest>("parent_intent_id"), Side::Client);
        assert_eq!(parent["type"], json!(["string", "null"]));
        assert_eq!(parent["allOf"][0]["not"]["pattern"], "[/?#\\u0000-\\u001f\\u007f-\\u009f]");
        let secs = field_schema(field::<AcquireLeaseRequest>("duration_seconds"), Side::Client);
        assert_eq!(secs["maximum"], json!(crate::MAX_LEASE_SECONDS));
        assert!(secs["minimum"].is_u64(), "an integer's bounds are integers: {secs}");
        let money = field_schema(&opt("amount", Kind::Num).range(0.0, 1e15), Side::Server);
        assert_eq!(money["maximum"], json!(1e15));
        assert_eq!(field_schema(&req("at", Kind::Time), Side::Server), timestamp_input_schema());
    }

    #[test]
    fn an_open_list_is_an_enum_for_a_server_and_known_values_for_a_client() {
        let status = field::<SetStatusRequest>("status");
        assert!(status.is_open());
        let server = field_schema(status, Side::Server);
        assert!(server["enum"].as_array().unwrap().contains(&json!("completed")), "{server}");
        let client = field_schema(status, Side::Client);
        assert!(client.get("enum").is_none(), "{client}");
        assert!(client["description"].as_str().unwrap().starts_with("Known values: "), "{client}");
        // A closed list is an enum on both sides, with null when the field is optional.
        let closed = opt("pick", Kind::Str).one_of(|| vec!["a", "b"]);
        assert_eq!(field_schema(&closed, Side::Client)["enum"], json!(["a", "b", null]));
    }
}

//! JSON Schemas of tool inputs, from the request field declarations of the types crate
//! ([`RequestSchema::FIELDS`](openintent_types::schema::RequestSchema::FIELDS)) and the tools'
//! own path and query arguments.

use openintent_types::PatchOp;
use openintent_types::schema::{Field, Kind, Rule};
use serde_json::{Map, Value, json};

use crate::tools::{Param, ToolDef};

/// The input schema of a tool: an object with one property per argument.
pub(crate) fn input_schema(tool: &ToolDef) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in tool.params {
        let mut schema = p.kind.map_or_else(|| json!({}), kind_schema);
        if let Value::Object(m) = &mut schema {
            m.insert("description".into(), json!(p.description));
        }
        properties.insert(p.name.to_owned(), schema);
        if p.required {
            required.push(p.name);
        }
    }
    for f in tool.body_fields() {
        properties.insert(f.name().to_owned(), field_schema(f));
        if f.required() {
            required.push(f.name());
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// The argument names a tool reads.
pub(crate) fn argument_names(tool: &ToolDef) -> Vec<&'static str> {
    tool.params.iter().map(|p: &Param| p.name).chain(tool.body_fields().map(Field::name)).collect()
}

fn field_schema(field: &Field) -> Value {
    let mut schema = kind_schema(field.kind());
    let Value::Object(m) = &mut schema else { return schema };
    match field.rule() {
        Rule::Text(max) => {
            m.insert("minLength".into(), json!(1));
            if let Some(max) = max {
                m.insert("maxLength".into(), json!(max));
            }
        }
        Rule::Id(max) | Rule::Scope(max) | Rule::Mime(max) => {
            m.insert("minLength".into(), json!(1));
            m.insert("maxLength".into(), json!(max));
        }
        Rule::HttpUrl => {
            m.insert("format".into(), json!("uri"));
        }
        Rule::OneOf(names) if field.is_open() => {
            m.insert("description".into(), json!(format!("Known values: {}", names().join(", "))));
        }
        Rule::OneOf(names) => {
            m.insert("enum".into(), json!(names()));
        }
        Rule::Range(min, max) => {
            if let Some(min) = min {
                m.insert("minimum".into(), json!(min));
            }
            if let Some(max) = max {
                m.insert("maximum".into(), json!(max));
            }
        }
        _ => {}
    }
    schema
}

fn kind_schema(kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({"type": "string"}),
        Kind::Time => json!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 timestamp such as 2026-11-24T13:46:05Z",
        }),
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
                    "path": {"type": "string", "description": "An RFC 6901 JSON pointer such as /progress"},
                    "value": {},
                },
                "required": ["op", "path"],
            },
            })
        }
        Kind::Options => json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "rationale": {"type": "string"}},
                "required": ["label"],
            },
        }),
        _ => json!({}),
    }
}

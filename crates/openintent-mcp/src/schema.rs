//! JSON Schemas of tool inputs, from the request field declarations of the types crate
//! ([`RequestSchema::FIELDS`](openintent_types::schema::RequestSchema::FIELDS)) and the tools'
//! own path and query arguments, each in the types crate's JSON Schema of its kind and rule
//! ([`openintent_types::schema::json`], the mapping the OpenAPI document of the server uses).

use openintent_types::schema::Field;
use openintent_types::schema::json::{Side, field_schema, kind_schema};
use serde_json::{Map, Value, json};

use crate::tools::{Param, ToolDef};

/// The input schema of a tool: an object with one property per argument.
pub(crate) fn input_schema(tool: &ToolDef) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in tool.params {
        let mut schema = p.kind.map_or_else(|| json!({}), kind_schema);
        if let Value::Object(m) = &mut schema {
            // The argument's own description, then the kind's (a timestamp's accepted forms).
            let description = match m.get("description").and_then(Value::as_str) {
                Some(kind) => format!("{}. {kind}", p.description),
                None => p.description.to_owned(),
            };
            m.insert("description".into(), json!(description));
        }
        properties.insert(p.name.to_owned(), schema);
        if p.required {
            required.push(p.name);
        }
    }
    for f in tool.body_fields() {
        // A tool talks to any server, which may know more names than this crate: open lists
        // of names are described, not enforced.
        let mut schema = field_schema(f, Side::Client);
        if f.required()
            && !tool.requires(f)
            && let Value::Object(m) = &mut schema
        {
            // Absent (or null), the client fills it in.
            if let Some(t) = m.get_mut("type").filter(|t| t.is_string()) {
                *t = json!([t.take(), "null"]);
            }
            m.insert("description".into(), json!("Optional: by default, the agent this MCP server acts as"));
        }
        properties.insert(f.name().to_owned(), schema);
        if tool.requires(f) {
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

//! Request field rules, declared once per request and read by everyone who needs them.
//!
//! Each request body type declares its fields with [`req`] and [`opt`] in
//! [`RequestSchema::FIELDS`]: the canonical name, the JSON [`Kind`] of value it holds, and the
//! [`Rule`] its value meets (length, id, scope, media type, URL, enum, range). That one
//! declaration is
//!
//! - what the request's [`Validate`](crate::Validate) enforces, field by field
//!   ([`check_rules`]; rules across fields stay code beside it),
//! - what a server checks a JSON body's kinds against before deserializing it
//!   ([`check_schema`], with FastAPI-style [`FieldError`]s naming the field), and
//! - what an OpenAPI document or an MCP tool describes the request body with ([`json`](mod@json), the
//!   JSON Schema of each field).
//!
//! ```
//! use openintent_types::schema::{RequestSchema, check_rules};
//! use openintent_types::AcquireLeaseRequest;
//!
//! let f = AcquireLeaseRequest::FIELDS.iter().find(|f| f.name() == "scope").unwrap();
//! assert!(f.required());
//! let err = check_rules(&serde_json::json!({"scope": " "}), AcquireLeaseRequest::FIELDS).unwrap_err();
//! assert_eq!(err.to_string(), "scope cannot be empty");
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod json;

use crate::validation::{InputValidationError, fail, require_text, require_text_max, validate_http_url, validate_id};

/// One item of a request-validation error list (FastAPI style, shape B).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldError {
    /// Machine-readable kind (`missing`, `string_type`, ...).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Location: `"body"`/`"query"`/`"header"` then field names or indexes.
    #[serde(default)]
    pub loc: Vec<Value>,
    /// Human-readable message.
    #[serde(default)]
    pub msg: String,
    /// The offending input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Extra context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl FieldError {
    /// An error at `body.<field>`.
    pub fn body(field: &str, kind: impl Into<String>, msg: impl Into<String>) -> Self {
        let loc = std::iter::once("body")
            .chain(field.split('.').filter(|s| !s.is_empty()))
            .map(|s| Value::String(s.to_owned()))
            .collect();
        FieldError { kind: kind.into(), loc, msg: msg.into(), input: None, ctx: None }
    }

    /// The field path without the leading location kind: `["body","patches",0,"op"]` →
    /// `patches.0.op`.
    pub fn field(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .skip_while(|v| matches!(v.as_str(), Some("body" | "query" | "header" | "path")))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        parts.join(".")
    }
}

/// The kind of JSON value a body field must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A string.
    Str,
    /// An ISO-8601 timestamp string, naive (read as UTC) or with an offset.
    Time,
    /// An integer.
    Int,
    /// Any number.
    Num,
    /// A boolean.
    Bool,
    /// An object.
    Obj,
    /// An object, or an array (read as `{"rules": [...]}`).
    ObjOrList,
    /// An array.
    List,
    /// An array of strings.
    StrList,
    /// An array of `{op, path, value}` objects.
    Patches,
    /// An array of arbitration options: `{label, rationale?}` objects.
    Options,
}

/// A constraint on a field's value, enforced by [`check_rules`] (and so by the request's
/// [`Validate`](crate::Validate)) and documented in the OpenAPI document.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Rule {
    /// Any value of the field's kind.
    Any,
    /// A string with at least one character that is not whitespace, and at most this many
    /// characters when given.
    Text(Option<u32>),
    /// An id: [`Rule::Text`], and none of `/`, `?`, `#` or control characters.
    Id(u32),
    /// A lease scope: [`Rule::Text`] of at most this many characters, without control
    /// characters (any other character is allowed: `data-processing`, `a b`, `a/b`).
    Scope(u32),
    /// A media type `type/subtype` of at most this many characters.
    Mime(u32),
    /// An `http` or `https` URL.
    HttpUrl,
    /// One of the names the function lists (see [`Field::open`] for lists that only document).
    OneOf(fn() -> Vec<&'static str>),
    /// A number in this inclusive range (`None`: unbounded on that side).
    Range(Option<f64>, Option<f64>),
}

/// One field of a request body: name, kind, whether it is required, and its [`Rule`].
#[derive(Debug, Clone, Copy)]
pub struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
    rule: Rule,
    reported_as: Option<&'static str>,
    unit: Option<&'static str>,
    open: bool,
}

impl Field {
    /// The canonical name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The kind of value it holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the body must carry it.
    pub fn required(&self) -> bool {
        self.required
    }

    /// The constraint its value meets.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The name validation errors give the field: [`Field::reported_as`] if set, else the
    /// canonical name.
    pub fn error_name(&self) -> &'static str {
        self.reported_as.unwrap_or(self.name)
    }

    /// Whether a [`Rule::OneOf`] list only documents the known names ([`Field::open`]).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Not blank, and at most `max` characters (0: no limit).
    pub const fn text(mut self, max: u32) -> Field {
        self.rule = Rule::Text(if max == 0 { None } else { Some(max) });
        self
    }

    /// An id of at most 255 characters ([`Rule::Id`]).
    pub const fn id(mut self) -> Field {
        self.rule = Rule::Id(255);
        self
    }

    /// A lease scope of at most [`MAX_SCOPE_CHARS`](crate::validation::MAX_SCOPE_CHARS) characters
    /// ([`Rule::Scope`]).
    pub const fn scope(mut self) -> Field {
        self.rule = Rule::Scope(crate::validation::MAX_SCOPE_CHARS as u32);
        self
    }

    /// A media type of at most `max` characters ([`Rule::Mime`]).
    pub const fn mime(mut self, max: u32) -> Field {
        self.rule = Rule::Mime(max);
        self
    }

    /// An `http` or `https` URL ([`Rule::HttpUrl`]).
    pub const fn http_url(mut self) -> Field {
        self.rule = Rule::HttpUrl;
        self
    }

    /// One of the names `names` lists.
    pub const fn one_of(mut self, names: fn() -> Vec<&'static str>) -> Field {
        self.rule = Rule::OneOf(names);
        self
    }

    /// At least `min`.
    pub const fn min(mut self, min: f64) -> Field {
        self.rule = Rule::Range(Some(min), None);
        self
    }

    /// From `min` to `max`, both included.
    pub const fn range(mut self, min: f64, max: f64) -> Field {
        self.rule = Rule::Range(Some(min), Some(max));
        self
    }

    /// The unit a range error names after the bounds (`seconds`).
    pub const fn unit(mut self, unit: &'static str) -> Field {
        self.unit = Some(unit);
        self
    }

    /// The name validation errors give the field when it is not the canonical one (the
    /// seed's name, which clients match on).
    pub const fn reported_as(mut self, name: &'static str) -> Field {
        self.reported_as = Some(name);
        self
    }

    /// A [`Rule::OneOf`] list that names the known values without refusing others in
    /// [`check_rules`]: clients may send names newer than this crate, and the receiver judges.
    pub const fn open(mut self) -> Field {
        self.open = true;
        self
    }
}

/// A required field.
pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true, rule: Rule::Any, reported_as: None, unit: None, open: false }
}

/// An optional field (`null` counts as absent).
pub const fn opt(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false, rule: Rule::Any, reported_as: None, unit: None, open: false }
}

/// A request body whose fields are declared once, here, for validation and documentation.
pub trait RequestSchema {
    /// The fields (canonical names).
    const FIELDS: &'static [Field];
    /// Whether an empty body means "all defaults".
    const EMPTY_OK: bool = false;

    /// Constraints across fields, added to the body's OpenAPI schema.
    fn schema_extra() -> Option<Value> {
        None
    }
}

/// Checks the field rules of `fields` against a request in its canonical JSON form (absent
/// and `null` members pass; a member of the wrong kind is left to [`check_schema`]). The first
/// failure is returned, naming the field.
pub fn check_rules(value: &Value, fields: &[Field]) -> Result<(), InputValidationError> {
    for f in fields {
        let Some(v) = value.get(f.name).filter(|v| !v.is_null()) else { continue };
        check_rule(f, v)?;
    }
    Ok(())
}

/// [`check_rules`] on a request's canonical JSON form.
pub fn validate_fields<T: RequestSchema + serde::Serialize>(request: &T) -> Result<(), InputValidationError> {
    let value = serde_json::to_value(request)
        .map_err(|e| InputValidationError::new("body", format!("body cannot be serialized: {e}")))?;
    check_rules(&value, T::FIELDS)
}

fn check_rule(f: &Field, v: &Value) -> Result<(), InputValidationError> {
    let name = f.error_name();
    match (f.rule, v) {
        (Rule::Text(None), Value::String(s)) => require_text(name, s),
        (Rule::Text(Some(max)), Value::String(s)) => require_text_max(name, s, max.into()),
        (Rule::Id(_), Value::String(s)) => validate_id(name, s),
        (Rule::Scope(max), Value::String(s)) => {
            require_text_max(name, s, max.into())?;
            if s.chars().any(char::is_control) {
                return fail(name, "must not contain control characters");
            }
            Ok(())
        }
        (Rule::Mime(max), Value::String(s)) => {
            require_text_max(name, s, max.into())?;
            match s.split_once('/') {
                Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => Ok(()),
                _ => fail(name, format_args!("must look like type/subtype, got {s:?}")),
            }
        }
        (Rule::HttpUrl, Value::String(s)) => validate_http_url(name, s),
        (Rule::OneOf(names), Value::String(s)) if !f.open => {
            let names = names();
            if names.contains(&s.as_str()) {
                return Ok(());
            }
            let list = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => names.join(", "),
            };
            fail(name, format_args!("must be {list}, got {s:?}"))
        }
        (Rule::Range(min, max), Value::Number(n)) => check_range(f, n, min, max),
        _ => Ok(()),
    }
}

/// Integers name the whole range ("must be between 1 and 86400 seconds"); numbers name the
/// bound they cross. A lower bound of 0 reads "cannot be negative".
fn check_range(
    f: &Field,
    n: &serde_json::Number,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<(), InputValidationError> {
    let name = f.error_name();
    let Some(x) = n.as_f64() else { return Ok(()) };
    let below = min.is_some_and(|m| x < m);
    let above = max.is_some_and(|m| x > m);
    if !(below || above) {
        return Ok(());
    }
    let unit = f.unit.map(|u| format!(" {u}")).unwrap_or_default();
    let shown = if f.kind == Kind::Int { n.to_string() } else { x.to_string() };
    match (f.kind, min, max) {
        (Kind::Int, Some(lo), Some(hi)) => fail(name, format_args!("must be between {lo} and {hi}{unit}, got {shown}")),
        (_, Some(lo), _) if below && lo == 0.0 => fail(name, format_args!("cannot be negative, got {shown}")),
        (Kind::Int, Some(lo), _) if below => fail(name, format_args!("must be at least {lo}{unit}, got {shown}")),
        (_, Some(lo), _) if below => fail(name, format_args!("must be a finite number of at least {lo}, got {shown}")),
        (_, _, Some(hi)) if f.kind == Kind::Int => fail(name, format_args!("must be at most {hi}{unit}, got {shown}")),
        (_, _, Some(hi)) => fail(name, format_args!("must be at most {hi:e}, got {x:e}")),
        _ => Ok(()),
    }
}

fn err(kind: &str, loc: Vec<Value>, msg: &str, input: Option<Value>) -> FieldError {
    FieldError { kind: kind.to_owned(), loc, msg: msg.to_owned(), input, ..Default::default() }
}

fn loc(parts: &[&Value]) -> Vec<Value> {
    std::iter::once(json!("body")).chain(parts.iter().map(|v| (*v).clone())).collect()
}

fn check_kind(kind: Kind, v: &Value, at: Vec<Value>, out: &mut Vec<FieldError>) {
    let bad = |t: &str, m: &str, out: &mut Vec<FieldError>| out.push(err(t, at.clone(), m, Some(v.clone())));
    match kind {
        Kind::Str if !v.is_string() => bad("string_type", "Input should be a valid string", out),
        Kind::Time => match v {
            Value::String(s) => {
                if let Err(e) = crate::time::parse_timestamp(s) {
                    bad("datetime_from_date_parsing", &format!("Input should be a valid datetime: {e}"), out)
                }
            }
            _ => bad("datetime_type", "Input should be a valid datetime", out),
        },
        Kind::Int => match v {
            Value::Number(n) if n.is_i64() => {}
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() != 0.0) => {
                bad("int_from_float", "Input should be a valid integer, got a number with a fractional part", out)
            }
            Value::Number(n) if n.as_f64().is_some_and(|f| f.abs() < 9.0e15) => {}
            _ => bad("int_type", "Input should be a valid integer", out),
        },
        Kind::Num if !v.is_number() => bad("float_type", "Input should be a valid number", out),
        Kind::Bool if !v.is_boolean() => bad("bool_type", "Input should be a valid boolean", out),
        Kind::Obj if !v.is_object() => bad("dict_type", "Input should be a valid dictionary", out),
        Kind::ObjOrList if !(v.is_object() || v.is_array()) => {
            bad("dict_type", "Input should be a valid dictionary", out)
        }
        Kind::List if !v.is_array() => bad("list_type", "Input should be a valid list", out),
        Kind::StrList => match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        let mut l = at.clone();
                        l.push(json!(i));
                        out.push(err("string_type", l, "Input should be a valid string", Some(item.clone())));
                    }
                }
            }
            _ => bad("list_type", "Input should be a valid list", out),
        },
        Kind::Patches => check_object_items(v, &at, &["op", "path"], &[], out),
        Kind::Options => check_object_items(v, &at, &["label"], &["rationale"], out),
        _ => {}
    }
}

/// Checks an array of objects whose `required` members are strings and whose `optional`
/// members are strings or `null`; errors name the item and member.
fn check_object_items(v: &Value, at: &[Value], required: &[&str], optional: &[&str], out: &mut Vec<FieldError>) {
    let Value::Array(items) = v else {
        out.push(err("list_type", at.to_vec(), "Input should be a valid list", Some(v.clone())));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let mut l = at.to_vec();
        l.push(json!(i));
        let Value::Object(m) = item else {
            out.push(err("dict_type", l, "Input should be a valid dictionary", Some(item.clone())));
            continue;
        };
        for (name, needed) in required.iter().map(|n| (n, true)).chain(optional.iter().map(|n| (n, false))) {
            let mut fl = l.clone();
            fl.push(json!(name));
            match m.get(*name) {
                None | Some(Value::Null) if needed => {
                    out.push(err("missing", fl, "Field required", Some(item.clone())))
                }
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(other) => out.push(err("string_type", fl, "Input should be a valid string", Some(other.clone()))),
            }
        }
    }
}

/// Checks the kinds of a JSON body's members against `fields` (required members present,
/// each of its [`Kind`]), with FastAPI-style errors naming the field; drops `null` optional
/// members and reads an integer written with a zero fraction (`30.0`) as that integer.
pub fn check_schema(value: &mut Value, fields: &[Field]) -> Result<(), Vec<FieldError>> {
    let Value::Object(map) = value else {
        return Err(vec![err(
            "model_attributes_type",
            vec![json!("body")],
            "Input should be a valid dictionary or object to extract fields from",
            Some(value.clone()),
        )]);
    };
    let mut errors = Vec::new();
    let snapshot = Value::Object(map.clone());
    for f in fields {
        let name = json!(f.name);
        match map.get(f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    errors.push(err("missing", loc(&[&name]), "Field required", Some(snapshot.clone())));
                } else {
                    map.remove(f.name);
                }
            }
            Some(v) => check_kind(f.kind, v, loc(&[&name]), &mut errors),
        }
        // An integer written with a zero fraction (`30.0`) is that integer, as JSON Schema
        // and the reference server read it.
        if matches!(f.kind, Kind::Int)
            && let Some(Value::Number(n)) = map.get(f.name)
            && !n.is_i64()
            && let Some(x) = n.as_f64()
            && x.fract() == 0.0
            && x.abs() < 9.0e15
        {
            map.insert(f.name.to_owned(), json!(x as i64));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        AcquireLeaseRequest, CreateIntentRequest, RecordCostRequest, RecordDecisionRequest, SetRetryPolicyRequest,
        Validate,
    };

    fn names() -> Vec<&'static str> {
        vec!["a", "b", "c"]
    }

    const FIELDS: &[Field] = &[
        opt("text", Kind::Str).text(3),
        opt("id", Kind::Str).id(),
        opt("scope", Kind::Str).scope(),
        opt("mime", Kind::Str).mime(20),
        opt("url", Kind::Str).http_url(),
        opt("pick", Kind::Str).one_of(names),
        opt("known", Kind::Str).one_of(names).open(),
        opt("secs", Kind::Int).range(1.0, 10.0).unit("seconds"),
        opt("count", Kind::Int).min(0.0),
        opt("attempt", Kind::Int).min(1.0),
        opt("factor", Kind::Num).min(1.0),
        opt("money", Kind::Num).range(0.0, 1e15),
        opt("seed", Kind::Str).text(0).reported_as("legacy"),
    ];

    fn message(body: Value) -> String {
        check_rules(&body, FIELDS).unwrap_err().to_string()
    }

    #[test]
    fn each_rule_refuses_with_a_message_naming_the_field() {
        assert_eq!(message(json!({"text": " "})), "text cannot be empty");
        assert_eq!(message(json!({"text": "abcd"})), "text must be at most 3 characters");
        assert_eq!(message(json!({"id": "a/b"})), "id must not contain '/', '?', '#' or control characters");
        assert_eq!(message(json!({"scope": "a\u{7}"})), "scope must not contain control characters");
        assert_eq!(message(json!({"mime": "text"})), "mime must look like type/subtype, got \"text\"");
        assert_eq!(message(json!({"url": "ftp://x"})), "url must be an http or https URL, got \"ftp://x\"");
        assert_eq!(message(json!({"pick": "d"})), "pick must be a, b or c, got \"d\"");
        assert_eq!(message(json!({"secs": 11})), "secs must be between 1 and 10 seconds, got 11");
        assert_eq!(message(json!({"count": -1})), "count cannot be negative, got -1");
        assert_eq!(message(json!({"attempt": 0})), "attempt must be at least 1, got 0");
        assert_eq!(message(json!({"factor": 0.5})), "factor must be a finite number of at least 1, got 0.5");
        assert_eq!(message(json!({"money": -0.5})), "money cannot be negative, got -0.5");
        assert_eq!(message(json!({"money": 2e15})), "money must be at most 1e15, got 2e15");
        assert_eq!(message(json!({"seed": ""})), "legacy cannot be empty");
    }

    #[test]
    fn edges_absent_nulls_and_open_lists_pass() {
        let ok = json!({
            "text": "abc", "id": "x", "scope": "a b/c", "mime": "text/plain", "url": "https://e.x/p",
            "pick": "c", "known": "anything", "secs": 10, "count": 0, "attempt": 1, "factor": 1.0,
            "money": 1e15, "seed": "s",
        });
        assert_eq!(check_rules(&ok, FIELDS), Ok(()));
        assert_eq!(check_rules(&json!({"text": null}), FIELDS), Ok(()));
        assert_eq!(check_rules(&json!({}), FIELDS), Ok(()));
        // Kinds are check_schema's: a number where text is declared passes the rules.
        assert_eq!(check_rules(&json!({"text": 12345}), FIELDS), Ok(()));
    }

    #[test]
    fn validate_enforces_the_declaration() {
        let lease = AcquireLeaseRequest::new("s", 0);
        let declared = check_rules(&serde_json::to_value(&lease).unwrap(), AcquireLeaseRequest::FIELDS);
        assert_eq!(lease.validate(), declared);
        assert_eq!(lease.validate().unwrap_err().field, "duration_seconds");
        // The seed's name for the outcome.
        assert_eq!(RecordDecisionRequest::new(" ").validate().unwrap_err().field, "decision");
        // Rules the declaration cannot say stay code beside it.
        let policy = SetRetryPolicyRequest { base_delay_ms: 10, max_delay_ms: 5, ..Default::default() };
        assert_eq!(policy.validate().unwrap_err().field, "max_delay_ms");
        let cost = RecordCostRequest::new("tokens", f64::NAN, "t");
        assert_eq!(cost.validate().unwrap_err().to_string(), "amount must be a finite number");
        // An intent status outside the known list is for the server to refuse.
        let create: CreateIntentRequest = serde_json::from_value(json!({"title": "t", "status": "later"})).unwrap();
        assert_eq!(create.validate(), Ok(()));
    }

    #[test]
    fn check_schema_names_the_field_and_drops_null_optionals() {
        let fields = &[req("title", Kind::Str), opt("n", Kind::Int), opt("note", Kind::Str)];
        let mut body = json!({"title": 1, "n": 2.5});
        let errors = check_schema(&mut body, fields).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            (errors[0].kind.as_str(), errors[0].loc.clone()),
            ("string_type", vec![json!("body"), json!("title")])
        );
        assert_eq!(errors[1].kind, "int_from_float");
        let mut body = json!({"title": "t", "n": 30.0, "note": null});
        check_schema(&mut body, fields).unwrap();
        assert_eq!(body, json!({"title": "t", "n": 30}));
        assert_eq!(check_schema(&mut json!({}), fields).unwrap_err()[0].kind, "missing");
    }
}

//! What a handler reads from a request: the caller ([`Principal`], behind the API-key check),
//! JSON bodies checked against their [`BodySchema`] with FastAPI-style 422s naming the field,
//! query parameters, and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use openintent_types::wire::WireModel;
use openintent_types::{FieldError, Validate};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The caller's identity: the `X-Agent-ID` header when present and non-empty, else the API key
/// (or the agent the key is bound to).
#[derive(Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The principal may be an API key; never print it.
        f.write_str("Principal(<redacted>)")
    }
}

impl Principal {
    /// The identity string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// Checks `X-API-Key` (constant-time against every configured key) and `X-Agent-ID`.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Principal> {
    let given = headers.get("x-api-key").map(HeaderValue::as_bytes).unwrap_or_default();
    if given.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    let mut matched = None;
    for key in state.api_keys() {
        let equal: bool = key.secret().as_bytes().ct_eq(given).into();
        if equal && matched.is_none() {
            matched = Some(key);
        }
    }
    let key = matched.ok_or(ApiError::Unauthorized)?;
    let claimed = headers
        .get("x-agent-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(c) = &claimed
        && c.chars().count() > 255
    {
        return Err(ApiError::BadRequest("X-Agent-ID must be at most 255 characters".into()));
    }
    match (key.agent(), claimed) {
        (Some(bound), Some(c)) if bound != c => {
            Err(ApiError::Forbidden(format!("This API key may only act as agent {bound:?}, not {c:?}")))
        }
        (Some(bound), _) => Ok(Principal(bound.to_owned())),
        (None, Some(c)) => Ok(Principal(c)),
        (None, None) => Ok(Principal(key.secret().to_owned())),
    }
}

/// Middleware requiring a valid key; stores the [`Principal`] in the request extensions.
pub async fn require_api_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, req.headers()) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// `route` behind [`require_api_key`]: each of its methods needs a valid key, while a method it
/// does not serve still answers 405 without looking at the key (as the reference does).
pub fn keyed(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.route_layer(from_fn_with_state(state.clone(), require_api_key))
}

/// An optional text field, absent when blank (the handlers then fall back to a default, such
/// as the caller).
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

/// Parses `If-Match` (`N`, `"N"` or `W/"N"`). Missing (or empty) is 400 with the reference's
/// text, `If-Match header required`; a value that is not a version is 400 saying so.
pub fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let missing = || ApiError::BadRequest("If-Match header required".into());
    let given = headers.get(header::IF_MATCH).ok_or_else(missing)?;
    let text = given.to_str().unwrap_or("").trim();
    if given.is_empty() || (text.is_empty() && given.to_str().is_ok()) {
        return Err(missing());
    }
    let raw = text.strip_prefix("W/").unwrap_or(text);
    let raw = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    raw.trim().parse::<i64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "If-Match header must be the intent's version, an integer such as 3, \"3\" or W/\"3\" (got {:?})",
            String::from_utf8_lossy(given.as_bytes())
        ))
    })
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

/// A constraint on a field's value, documented in the OpenAPI document. The model's
/// `Validate` rules enforce it (and may refuse more, such as a scope's grammar).
#[derive(Debug, Clone, Copy)]
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
    /// One of the names the function lists.
    OneOf(fn() -> Vec<&'static str>),
    /// A number in this inclusive range (`None`: unbounded on that side).
    Range(Option<f64>, Option<f64>),
}

/// One field of a request body schema.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
    rule: Rule,
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

    /// A lease scope of at most [`MAX_SCOPE_CHARS`](openintent_types::MAX_SCOPE_CHARS)
    /// characters ([`Rule::Scope`]).
    pub const fn scope(mut self) -> Field {
        self.rule = Rule::Scope(openintent_types::MAX_SCOPE_CHARS as u32);
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
}

/// A required field.
pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true, rule: Rule::Any }
}

/// An optional field (`null` counts as absent).
pub const fn opt(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false, rule: Rule::Any }
}

/// A request body with a declared schema, checked before deserialization so that 422s name the
/// field like FastAPI does.
pub trait BodySchema: DeserializeOwned + Validate + WireModel {
    /// The fields (canonical names).
    const FIELDS: &'static [Field];
    /// Whether an empty body means "all defaults".
    const EMPTY_OK: bool = false;

    /// Constraints across fields, added to the body's OpenAPI schema.
    fn schema_extra() -> Option<Value> {
        None
    }
}

fn err(kind: &str, loc: Vec<Value>, msg: &str, input: Option<Value>) -> FieldError {
    let mut e = FieldError::default();
    e.kind = kind.to_owned();
    e.loc = loc;
    e.msg = msg.to_owned();
    e.input = input;
    e
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
                if let Err(e) = openintent_types::time::parse_timestamp(s) {
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

/// Checks a JSON body against a schema; drops `null` optional members.
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

/// Reads a JSON body: size limit (413), content type and syntax (422), schema (422 naming the
/// field), aliases, and the model's `Validate` rules (422 naming the field).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: BodySchema> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.body_limit();
        let content_type =
            req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("invalid").to_ascii_lowercase());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        let bytes: Bytes =
            axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
        let text_body = || Some(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if let Some(ct) = &content_type {
            let essence = ct.split(';').next().unwrap_or("").trim();
            let json_like =
                essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
            if !json_like {
                return Err(ApiError::Validation(vec![err(
                    "model_attributes_type",
                    vec![json!("body")],
                    "Input should be a valid dictionary or object to extract fields from (send Content-Type: application/json)",
                    text_body(),
                )]));
            }
        }
        let mut value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            if T::EMPTY_OK {
                Value::Object(Map::new())
            } else {
                return Err(ApiError::Validation(vec![err("missing", vec![json!("body")], "Field required", None)]));
            }
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    let offset = json_offset(&bytes, e.line(), e.column());
                    let mut fe =
                        err("json_invalid", vec![json!("body"), json!(offset)], "JSON decode error", Some(json!({})));
                    fe.ctx = Some(json!({ "error": e.to_string() }));
                    return Err(ApiError::Validation(vec![fe]));
                }
            }
        };
        openintent_types::wire::normalize_aliases(&mut value, T::READ_ALIASES);
        check_schema(&mut value, T::FIELDS).map_err(ApiError::Validation)?;
        let parsed: T = serde_json::from_value(value.clone()).map_err(|e| {
            ApiError::Validation(vec![err("value_error", vec![json!("body")], &e.to_string(), Some(value))])
        })?;
        parsed.validate().map_err(|e| {
            let mut fe = FieldError::body(&e.field, "value_error", e.message.clone());
            fe.loc = fe
                .loc
                .into_iter()
                .map(|v| match v.as_str().and_then(|s| s.parse::<u64>().ok()) {
                    Some(n) => json!(n),
                    None => v,
                })
                .collect();
            ApiError::Validation(vec![fe])
        })?;
        Ok(JsonBody(parsed))
    }
}

fn json_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += l.len() + 1;
    }
    offset
}

/// Query parameters as pairs; an unreadable query string is a 422.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(Query(pairs)) => Ok(QueryParams(pairs)),
            Err(e) => Err(ApiError::invalid_query("", "query_invalid", e.body_text(), None)),
        }
    }
}

impl QueryParams {
    /// The last value of `name`, if non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> ApiResult<i64> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let n = raw.trim().parse::<i64>().map_err(|_| {
            ApiError::invalid_query(
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                Some(json!(raw)),
            )
        })?;
        if n < min {
            return Err(ApiError::invalid_query(
                name,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
                Some(json!(raw)),
            ));
        }
        if n > max {
            return Err(ApiError::invalid_query(
                name,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
                Some(json!(raw)),
            ));
        }
        Ok(n)
    }
}

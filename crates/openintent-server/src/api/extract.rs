//! What a handler reads from a request: the caller ([`Principal`], behind the API-key check),
//! JSON bodies checked against their [`BodySchema`] (the field rules the types crate declares,
//! [`openintent_types::schema`]) with FastAPI-style 422s naming the field,
//! query parameters, and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use openintent_types::schema::{RequestSchema, check_schema};
use openintent_types::wire::WireModel;
use openintent_types::{FieldError, Validate};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::config::Role;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The caller: the identity it acts as and the [`Role`] of its API key.
///
/// The identity is the key's bound agent; else the `X-Agent-ID` header when present and
/// non-blank (trimmed); else the key's [`key_principal`](crate::key_principal), never the key
/// itself. See [`authenticate`].
#[derive(Clone, PartialEq, Eq)]
pub struct Principal(pub String, pub Role);

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Principal").field(&self.0).field(&self.1).finish()
    }
}

impl Principal {
    /// The identity string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The role of the caller's API key.
    pub fn role(&self) -> Role {
        self.1
    }

    /// The one rule for identity fields in request bodies (`created_by`, `actor`,
    /// `requested_by`, `decided_by`, `sender`, ...): absent or blank, the caller acts as
    /// itself; naming the caller is the same; naming anyone else is allowed only to a role
    /// that may act for others ([`Role::may_act_for_others`]), and otherwise refused with a
    /// 403 naming `field`. Returns the identity to record.
    pub fn acting_as(&self, field: &str, given: Option<&str>) -> ApiResult<String> {
        match given.map(str::trim).filter(|g| !g.is_empty()) {
            None => Ok(self.0.clone()),
            Some(g) if g == self.0 => Ok(self.0.clone()),
            Some(g) if self.1.may_act_for_others() => Ok(g.to_owned()),
            Some(g) => Err(ApiError::Forbidden(format!(
                "{field}: a key with the {} role acts only as itself ({:?}), not as {g:?}; \
                 omit {field} or use an operator or admin key",
                self.1, self.0
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// Checks `X-API-Key` (constant-time against every configured key) and `X-Agent-ID`, and
/// derives the caller's [`Principal`]:
///
/// - a key bound to an agent acts as that agent; another `X-Agent-ID` is a 403;
/// - an unbound key acts as its `X-Agent-ID` (trimmed), unless that names an agent bound to
///   another key or another key's principal (403: those names are reserved to their keys);
/// - an unbound key without `X-Agent-ID` acts as its [`key_principal`](crate::key_principal).
///
/// An `X-Agent-ID` that is not valid UTF-8, holds control or invisible characters (such as
/// U+200B), or is longer than 255 characters is a 400 naming the header.
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
    let claimed = agent_id_header(headers)?;
    match (key.agent(), claimed) {
        (Some(bound), Some(c)) if bound != c => {
            Err(ApiError::Forbidden(format!("This API key may only act as agent {bound:?}, not {c:?}")))
        }
        (None, Some(c)) if state.api_keys().iter().any(|k| !std::ptr::eq(k, key) && k.reserves(&c)) => {
            Err(ApiError::Forbidden(format!("X-Agent-ID {c:?} is reserved to another API key")))
        }
        (None, Some(c)) => Ok(Principal(c, key.role())),
        (_, _) => Ok(Principal(key.principal().to_owned(), key.role())),
    }
}

/// The longest `X-Agent-ID` taken, in characters; the OpenAPI document's `maxLength` reads it.
pub(crate) const AGENT_ID_MAX_CHARS: usize = 255;

/// The `X-Agent-ID` header, trimmed; `None` when absent or blank. Unreadable (not UTF-8,
/// control or invisible characters, over [`AGENT_ID_MAX_CHARS`] characters) is a 400 naming
/// the header.
fn agent_id_header(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(raw) = headers.get("x-agent-id") else { return Ok(None) };
    let bad = |why: &str| ApiError::BadRequest(format!("X-Agent-ID header {why}"));
    let text = std::str::from_utf8(raw.as_bytes()).map_err(|_| bad("must be valid UTF-8"))?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > AGENT_ID_MAX_CHARS {
        return Err(bad(&format!("must be at most {AGENT_ID_MAX_CHARS} characters")));
    }
    if let Some(c) = text.chars().find(|c| unreadable(*c)) {
        return Err(bad(&format!("must not contain control or invisible characters (found U+{:04X})", u32::from(c))));
    }
    Ok(Some(text.to_owned()))
}

/// Control characters, whitespace other than the ASCII space, and the invisible (default
/// ignorable) code points: an identity holding one could look like another.
fn unreadable(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(u32::from(c),
            0xAD | 0x34F | 0x61C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Middleware requiring a valid key; stores the [`Principal`] in the request extensions. A
/// [`Role::Reader`] key is refused (403) on every method other than `GET`, `HEAD` and
/// `OPTIONS`.
pub async fn require_api_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, req.headers()) {
        Ok(p) if !p.role().may_write() && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) => {
            ApiError::Forbidden(format!("This API key has the {} role and may only read", p.role())).into_response()
        }
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

/// The `If-Match` values the OpenAPI document describes: `N`, `"N"` or `W/"N"` with 1 to 18
/// digits (any such number fits the `i64` [`if_match`] reads; the reader is tolerant beyond
/// it: surrounding whitespace, a sign, and 19-digit values up to `i64::MAX` are read too).
pub(crate) const IF_MATCH_PATTERN: &str = r#"^(W/)?("[0-9]{1,18}"|[0-9]{1,18})$"#;

/// Parses `If-Match` (`N`, `"N"` or `W/"N"`, [`IF_MATCH_PATTERN`]). Missing (or empty) is 400 with the reference's
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

/// A request body the server reads: its fields declared once in the types crate
/// ([`RequestSchema`]), deserializable, with its model's `Validate` rules and read aliases.
/// Every such type is one; the OpenAPI document reads the same declaration.
pub trait BodySchema: RequestSchema + DeserializeOwned + Validate + WireModel {}

impl<T: RequestSchema + DeserializeOwned + Validate + WireModel> BodySchema for T {}

fn err(kind: &str, loc: Vec<Value>, msg: &str, input: Option<Value>) -> FieldError {
    let mut e = FieldError::default();
    e.kind = kind.to_owned();
    e.loc = loc;
    e.msg = msg.to_owned();
    e.input = input;
    e
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

    /// The integer parameter `p` declares, within its range, its default when absent.
    pub(crate) fn int_of(&self, p: &IntParam) -> ApiResult<i64> {
        self.int(p.name, p.default, p.min, p.max)
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

/// Refuses `value` of the query parameter `name` unless it is one of `known` (a 422 naming it,
/// with the reference's message: `Input should be 'a', 'b' or 'c'`). `known` is the same list
/// [`enum_schema`] documents, as a rule the types crate's `known_names` of the enum.
pub(crate) fn one_of_query(name: &str, value: Option<&str>, known: &[&str]) -> ApiResult<()> {
    match value {
        Some(v) if !known.contains(&v) => Err(not_one_of(name, v, known)),
        _ => Ok(()),
    }
}

/// The 422 of [`one_of_query`]: `value` of query parameter `name` is none of `known`.
pub(crate) fn not_one_of(name: &str, value: &str, known: &[&str]) -> ApiError {
    let quoted: Vec<String> = known.iter().map(|k| format!("'{k}'")).collect();
    let list = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(", "),
    };
    ApiError::invalid_query(name, "enum", format!("Input should be {list}"), Some(json!(value)))
}

/// The JSON Schema of a string that is one of `known` (what [`one_of_query`] takes).
pub(crate) fn enum_schema(known: &[&str]) -> Value {
    json!({"type": "string", "enum": known})
}

/// An integer query parameter: its name, default and range, declared once (the constants are in
/// `api::spec`, beside the OpenAPI document that shows the same range and default). The
/// handler reads it with [`QueryParams::int_of`] (absent: the default; out of range: a 422
/// naming it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntParam {
    /// The parameter's name.
    pub(crate) name: &'static str,
    /// Its value when absent.
    pub(crate) default: i64,
    /// The least value taken.
    pub(crate) min: i64,
    /// The greatest value taken.
    pub(crate) max: i64,
}

impl IntParam {
    /// Its JSON Schema: integer, range, default.
    pub(super) fn schema(&self) -> serde_json::Value {
        use serde_json::json;
        json!({"type": "integer", "minimum": self.min, "maximum": self.max, "default": self.default})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enum_query_names_its_values_as_the_reference_does() {
        let msg = |known: &[&str]| match one_of_query("status", Some("x"), known) {
            Err(ApiError::Validation(errors)) => errors[0].msg.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(msg(&["start"]), "Input should be 'start'");
        assert_eq!(msg(&["pending", "resolved"]), "Input should be 'pending' or 'resolved'");
        assert_eq!(msg(&["pending", "approved", "denied"]), "Input should be 'pending', 'approved' or 'denied'");
        assert!(one_of_query("status", Some("resolved"), &["pending", "resolved"]).is_ok());
        assert!(one_of_query("status", None, &["pending"]).is_ok());
        assert_eq!(enum_schema(&["a", "b"]), json!({"type": "string", "enum": ["a", "b"]}));
    }
}

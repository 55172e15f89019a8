//! Wire-level helpers: tolerant reading (aliases, list envelopes, `null` as absent) and the
//! superset form a server emits for older clients.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A model with read aliases (keys accepted as synonyms of a canonical key) and extra keys a
/// server may emit beside the canonical one.
///
/// Every protocol model implements it; see [`to_superset_value`].
pub trait WireModel {
    /// `(canonical key, accepted synonyms)` pairs applied when reading.
    const READ_ALIASES: &'static [(&'static str, &'static [&'static str])];
    /// `(canonical key, extra key)` pairs: the value of the canonical key is also written under
    /// the extra key by [`to_superset_value`].
    const ALSO_EMIT: &'static [(&'static str, &'static str)];
}

/// Renames alias keys of a JSON object to their canonical key.
///
/// When the canonical key is present, its aliases are dropped; otherwise the first alias present
/// (in the listed order) becomes the canonical key. Non-objects are left untouched.
pub fn normalize_aliases(value: &mut Value, aliases: &[(&str, &[&str])]) {
    let Value::Object(map) = value else { return };
    for (canonical, synonyms) in aliases {
        let mut found = map.contains_key(*canonical);
        for synonym in *synonyms {
            if let Some(v) = map.remove(*synonym)
                && !found
            {
                map.insert((*canonical).to_owned(), v);
                found = true;
            }
        }
    }
}

/// Deserializes `value` as `T`; a failure below the top level names the path of the offending
/// value (`patches[1].op: unknown variant ...`), which plain `serde_json::from_value` loses.
#[doc(hidden)]
pub fn from_value_with_path<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        if path.is_empty() || path == "." || text.contains(&format!("`{path}`")) {
            return inner;
        }
        // A nested model already prefixed its own path (`path: ...`): join the two.
        let nested = text.split_once(": ").is_some_and(|(head, _)| {
            !head.is_empty() && head.chars().all(|c| c.is_alphanumeric() || "_[].".contains(c))
        });
        let sep = if nested && !text.starts_with('[') {
            "."
        } else if nested {
            ""
        } else {
            ": "
        };
        serde::de::Error::custom(format!("{path}{sep}{text}"))
    })
}

/// Serializes a model with its canonical keys plus the extra keys it declares in
/// [`WireModel::ALSO_EMIT`], so that clients reading either name find the value.
///
/// ```
/// use openintent_types::{wire::to_superset_value, Intent};
/// let mut intent = Intent::default();
/// intent.parent_id = Some("p".into());
/// let v = to_superset_value(&intent);
/// assert_eq!(v["parent_id"], "p");
/// assert_eq!(v["parent_intent_id"], "p");
/// ```
pub fn to_superset_value<T: Serialize + WireModel>(model: &T) -> Value {
    let mut value = serde_json::to_value(model).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for (canonical, extra) in T::ALSO_EMIT {
            if let Some(v) = map.get(*canonical).cloned() {
                map.entry((*extra).to_owned()).or_insert(v);
            }
        }
    }
    value
}

/// A list as servers send it: either a bare JSON array or an envelope object holding the array
/// under some key (`{"intents": [...], "total": 3}`), with optional paging numbers.
///
/// ```
/// use openintent_types::wire::ListBody;
/// let bare: ListBody<u32> = serde_json::from_str("[1,2]").unwrap();
/// let env: ListBody<u32> = serde_json::from_str(r#"{"items":[1,2],"total":9}"#).unwrap();
/// assert_eq!(bare.items, env.items);
/// assert_eq!(env.total, Some(9));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListBody<T> {
    /// The items.
    pub items: Vec<T>,
    /// `total` from an envelope, when present.
    pub total: Option<u64>,
    /// Other keys of the envelope (for example a cost `summary`).
    pub extra: Map<String, Value>,
}

impl<T> ListBody<T> {
    /// A list without paging information.
    pub fn new(items: Vec<T>) -> Self {
        Self { items, total: None, extra: Map::new() }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for ListBody<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Array(items) => Ok(ListBody {
                items: serde_json::from_value(Value::Array(items)).map_err(D::Error::custom)?,
                total: None,
                extra: Map::new(),
            }),
            Value::Object(mut map) => {
                // The envelope's list is its (first) array-valued key.
                let key = map
                    .iter()
                    .find(|(_, v)| v.is_array())
                    .map(|(k, _)| k.clone())
                    .ok_or_else(|| D::Error::custom("expected a JSON array or an object holding one"))?;
                let items = map.remove(&key).unwrap_or(Value::Array(Vec::new()));
                let total = map.get("total").and_then(Value::as_u64);
                Ok(ListBody { items: serde_json::from_value(items).map_err(D::Error::custom)?, total, extra: map })
            }
            other => Err(D::Error::custom(format!(
                "expected a JSON array or an object holding one, found {}",
                kind_of(&other)
            ))),
        }
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserializes `null` as the type's default (servers treat `null` as "absent").
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads a JSON object; a JSON array (the legacy constraint-list form) becomes `{"rules": [...]}`,
/// and `null` an empty object.
pub(crate) fn object_or_rules<'de, D>(d: D) -> Result<Map<String, Value>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(Value::Array(a)) => {
            let mut m = Map::new();
            m.insert("rules".to_owned(), Value::Array(a));
            Ok(m)
        }
        Some(other) => Err(D::Error::custom(format!("expected an object, found {}", kind_of(&other)))),
    }
}

/// Like [`object_or_rules`] for an optional field.
pub(crate) fn opt_object_or_rules<'de, D>(d: D) -> Result<Option<Map<String, Value>>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(Value::Array(a)) => {
            let mut m = Map::new();
            m.insert("rules".to_owned(), Value::Array(a));
            Ok(Some(m))
        }
        Some(other) => Err(D::Error::custom(format!("expected an object, found {}", kind_of(&other)))),
    }
}

/// Reads a boolean that older servers may send as 0/1.
pub(crate) fn bool_or_int<'de, D>(d: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::Number(n)) => Ok(n.as_i64().unwrap_or(0) != 0),
        Some(other) => Err(D::Error::custom(format!("expected a boolean, found {}", kind_of(&other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_rename_and_drop() {
        let mut v = serde_json::json!({"b": 1, "c": 2});
        normalize_aliases(&mut v, &[("a", &["b", "c"])]);
        assert_eq!(v, serde_json::json!({"a": 1}));
        let mut v = serde_json::json!({"a": 0, "b": 1});
        normalize_aliases(&mut v, &[("a", &["b"])]);
        assert_eq!(v, serde_json::json!({"a": 0}));
    }

    #[test]
    fn nested_errors_name_their_path() {
        let err = serde_json::from_value::<crate::UpdateStateRequest>(serde_json::json!({
            "patches": [{"op": "set", "path": "/a"}, {"op": "set", "path": 3}]
        }))
        .unwrap_err();
        assert!(err.to_string().starts_with("patches[1].path: invalid type: integer `3`"), "{err}");
        let err = serde_json::from_value::<crate::CreateIntentRequest>(serde_json::json!({})).unwrap_err();
        assert_eq!(err.to_string(), "missing field `title`");
    }

    #[test]
    fn list_body_rejects_scalars() {
        assert!(serde_json::from_str::<ListBody<u8>>("3").is_err());
        assert!(serde_json::from_str::<ListBody<u8>>(r#"{"total": 1}"#).is_err());
    }
}

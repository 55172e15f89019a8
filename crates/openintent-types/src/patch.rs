//! State patches (RFC-0001): `set`, `append` and `remove` at RFC 6901 JSON-pointer paths, and a
//! pure function that applies them to a state document.
//!
//! Two constructors write: [`StatePatch::set_path`] takes a JSON pointer (`/trip/hotel/stars`,
//! nested members created as needed) and [`StatePatch::set_key`] one top-level key taken
//! literally (`"a/b"` is a single key). Values are anything `Into<Value>`: `json!(..)`, numbers,
//! strings, booleans.
//!
//! ```
//! use openintent_types::patch::{apply_patches, StatePatch};
//! use serde_json::{json, Map, Value};
//!
//! let state: Map<String, Value> = json!({"trip": {"hotel": {"name": "A"}}})
//!     .as_object().cloned().unwrap();
//! let next = apply_patches(&state, &[
//!     StatePatch::set_path("/trip/hotel/stars", 4),
//!     StatePatch::append("/trip/log", "booked"),
//!     StatePatch::remove("/trip/hotel/name"),
//!     StatePatch::set_key("a/b", json!({"kept": true})),
//! ]).unwrap();
//! assert_eq!(
//!     Value::Object(next),
//!     json!({"trip": {"hotel": {"stars": 4}, "log": ["booked"]}, "a/b": {"kept": true}})
//! );
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use crate::wire::kind_of;

wire_enum! {
    /// A patch operation.
    #[derive(Default)]
    pub enum PatchOp {
        /// Write the value at the path, creating missing parent objects.
        #[default]
        Set = "set" | "replace" | "add",
        /// Append the value to the array at the path (created when missing).
        Append = "append",
        /// Delete the member or element at the path (absent members are not an error).
        Remove = "remove" | "delete",
    }
}

wire_model! {
    /// One state patch: `{"op", "path", "value"}`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct StatePatch {
        /// The operation.
        pub op: PatchOp,
        /// An RFC 6901 JSON pointer (`/a/b/0`); a leading `/` is optional when reading.
        pub path: String,
        /// The value (`null` for `remove`; a `null` value is omitted when writing, which reads back
        /// the same).
        #[serde(default, skip_serializing_if = "Value::is_null")]
        pub value: Value,
    }
    aliases {}
    also_emit {}
}

impl StatePatch {
    /// A patch with any operation.
    pub fn new(op: impl Into<PatchOp>, path: impl Into<String>, value: impl Into<Value>) -> Self {
        StatePatch { op: op.into(), path: path.into(), value: value.into() }
    }

    /// `set` at a JSON pointer (`/trip/hotel/stars`): nested members are created as needed,
    /// and `/` separates levels, so `/a/b` is the member `b` inside `a`.
    /// [`set_key`](Self::set_key) writes one top-level key instead.
    pub fn set_path(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(PatchOp::Set, path, value)
    }

    /// `set` of one top-level key, taken literally (escaped into a pointer, so `a/b` is one
    /// key). This is what the client's `update_state(..).set(key, value)` sends.
    /// [`set_path`](Self::set_path) writes at a JSON pointer instead.
    pub fn set_key(key: impl AsRef<str>, value: impl Into<Value>) -> Self {
        Self::set_path(format!("/{}", escape_token(key.as_ref())), value)
    }

    /// `set` at a JSON pointer.
    #[deprecated(
        since = "0.1.0",
        note = "use `StatePatch::set_path` (a JSON pointer) or `StatePatch::set_key` (one top-level key)"
    )]
    pub fn set(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::set_path(path, value)
    }

    /// `append` to the array at a JSON pointer (created when missing).
    pub fn append(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(PatchOp::Append, path, value)
    }

    /// `remove` at a JSON pointer.
    pub fn remove(path: impl Into<String>) -> Self {
        Self::new(PatchOp::Remove, path, Value::Null)
    }
}

/// Why a patch could not be applied. Nothing is applied when any patch of a list fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The operation is not `set`, `append` or `remove`.
    #[error("patches[{index}].op: unknown operation {op:?} (expected set, append or remove)")]
    UnknownOp {
        /// Position of the patch in the list.
        index: usize,
        /// The operation given.
        op: String,
    },
    /// The path is not a usable JSON pointer for this operation.
    #[error("patches[{index}].path: {reason} (path {path:?})")]
    InvalidPath {
        /// Position of the patch in the list.
        index: usize,
        /// The path given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The path steps into, or the operation targets, a value of the wrong type.
    #[error("patches[{index}].path: {reason} (path {path:?})")]
    TypeMismatch {
        /// Position of the patch in the list.
        index: usize,
        /// The path given.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl PatchError {
    /// The index of the failing patch.
    pub fn index(&self) -> usize {
        match self {
            PatchError::UnknownOp { index, .. }
            | PatchError::InvalidPath { index, .. }
            | PatchError::TypeMismatch { index, .. } => *index,
        }
    }
}

/// Escapes one key as a JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Splits a JSON pointer into unescaped reference tokens. A leading `/` is optional (`a/b` is
/// read as `/a/b`, the form older clients send); the empty string is the whole document.
pub fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    body.split('/')
        .map(|raw| {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err("`~` must be followed by 0 or 1".to_owned()),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// Applies `patches` in order to a copy of `state` and returns the result; `state` is untouched
/// and nothing is applied when any patch fails.
///
/// Semantics (RFC 6901 paths, nested paths included):
/// - `set`: writes the value; missing parent objects are created; inside an array the token is an
///   index (`0..=len`, where `len` or `-` appends); an empty path replaces the whole document and
///   needs an object.
/// - `append`: pushes the value onto the array at the path, creating `[value]` when the member is
///   missing; a non-array target is an error (never silently replaced).
/// - `remove`: deletes the member or array element; a missing member is not an error; an empty
///   path is an error.
/// - Stepping through a scalar is a [`PatchError::TypeMismatch`]; an unknown op is
///   [`PatchError::UnknownOp`].
pub fn apply_patches(state: &Map<String, Value>, patches: &[StatePatch]) -> Result<Map<String, Value>, PatchError> {
    let mut doc = Value::Object(state.clone());
    for (index, patch) in patches.iter().enumerate() {
        apply_one(&mut doc, index, patch)?;
    }
    match doc {
        Value::Object(m) => Ok(m),
        // apply_one only ever replaces the root with an object.
        _ => Ok(Map::new()),
    }
}

fn apply_one(doc: &mut Value, index: usize, patch: &StatePatch) -> Result<(), PatchError> {
    let invalid = |reason: &str| PatchError::InvalidPath { index, path: patch.path.clone(), reason: reason.to_owned() };
    let mismatch = |reason: String| PatchError::TypeMismatch { index, path: patch.path.clone(), reason };
    let tokens = parse_pointer(&patch.path).map_err(|r| invalid(&r))?;

    let Some((last, parents)) = tokens.split_last() else {
        return match &patch.op {
            PatchOp::Set => match &patch.value {
                Value::Object(_) => {
                    *doc = patch.value.clone();
                    Ok(())
                }
                other => Err(mismatch(format!("the whole state must be an object, not {}", kind_of(other)))),
            },
            PatchOp::Append | PatchOp::Remove => Err(invalid("an empty path addresses the whole state")),
            PatchOp::Unknown(op) => Err(PatchError::UnknownOp { index, op: op.clone() }),
        };
    };
    if let PatchOp::Unknown(op) = &patch.op {
        return Err(PatchError::UnknownOp { index, op: op.clone() });
    }
    let creating = !matches!(patch.op, PatchOp::Remove);

    // Walk to the parent container, creating objects for missing members when writing.
    let mut cur = doc;
    for (depth, token) in parents.iter().enumerate() {
        let at = || format!("/{}", tokens[..=depth].iter().map(|t| escape_token(t)).collect::<Vec<_>>().join("/"));
        cur = match cur {
            Value::Object(map) => {
                if !map.contains_key(token.as_str()) {
                    if !creating {
                        return Ok(()); // removing below a missing member: nothing to do
                    }
                    map.insert(token.clone(), Value::Object(Map::new()));
                }
                map.get_mut(token.as_str()).expect("present")
            }
            Value::Array(items) => {
                let i = array_index(token, items.len()).ok_or_else(|| {
                    mismatch(format!(
                        "{} is an array of {} items; {token:?} is not an index in it",
                        at_parent(&tokens, depth),
                        items.len()
                    ))
                })?;
                if i == items.len() {
                    return Err(mismatch(format!(
                        "index {token} is past the end of the array at {}",
                        at_parent(&tokens, depth)
                    )));
                }
                &mut items[i]
            }
            other => {
                return Err(mismatch(format!("{} is {}, which has no members", at(), kind_of(other))));
            }
        };
    }

    match cur {
        Value::Object(map) => match &patch.op {
            PatchOp::Set => {
                map.insert(last.clone(), patch.value.clone());
                Ok(())
            }
            PatchOp::Append => match map.get_mut(last.as_str()) {
                None => {
                    map.insert(last.clone(), Value::Array(vec![patch.value.clone()]));
                    Ok(())
                }
                Some(Value::Array(a)) => {
                    a.push(patch.value.clone());
                    Ok(())
                }
                Some(other) => Err(mismatch(format!("append needs an array, found {}", kind_of(other)))),
            },
            PatchOp::Remove => {
                map.remove(last.as_str());
                Ok(())
            }
            PatchOp::Unknown(_) => unreachable!("checked above"),
        },
        Value::Array(items) => {
            let len = items.len();
            let i = array_index(last, len).ok_or_else(|| {
                mismatch(format!("the parent is an array of {len} items; {last:?} is not an index in it"))
            })?;
            match &patch.op {
                PatchOp::Set if i == len => items.push(patch.value.clone()),
                PatchOp::Set => items[i] = patch.value.clone(),
                PatchOp::Append => match items.get_mut(i) {
                    Some(Value::Array(a)) => a.push(patch.value.clone()),
                    Some(other) => return Err(mismatch(format!("append needs an array, found {}", kind_of(other)))),
                    None => return Err(mismatch(format!("index {last} is past the end of an array of {len} items"))),
                },
                PatchOp::Remove if i < len => {
                    items.remove(i);
                }
                PatchOp::Remove => {
                    return Err(mismatch(format!("index {last} is past the end of an array of {len} items")));
                }
                PatchOp::Unknown(_) => unreachable!("checked above"),
            }
            Ok(())
        }
        other => Err(mismatch(format!("the parent is {}, which has no members", kind_of(other)))),
    }
}

fn at_parent(tokens: &[String], depth: usize) -> String {
    if depth == 0 {
        return "the state".to_owned();
    }
    format!("/{}", tokens[..depth].iter().map(|t| escape_token(t)).collect::<Vec<_>>().join("/"))
}

/// An array index token: decimal without leading zeros, or `-` (one past the end).
fn array_index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<usize>().ok().filter(|i| *i <= len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn nested_write_into_existing_object_is_kept() {
        // The reference server loses this write; it must persist.
        let s = obj(json!({"a": {"b": {"c": 1}}}));
        let n = apply_patches(&s, &[StatePatch::set_path("/a/b/d", json!(2))]).unwrap();
        assert_eq!(Value::Object(n), json!({"a": {"b": {"c": 1, "d": 2}}}));
    }

    #[test]
    fn escaped_tokens_and_bare_paths() {
        let n = apply_patches(
            &Map::new(),
            &[StatePatch::set_path("/a~1b/c~0d", json!(1)), StatePatch::set_path("x/y", json!(2))],
        )
        .unwrap();
        assert_eq!(Value::Object(n), json!({"a/b": {"c~d": 1}, "x": {"y": 2}}));
        assert!(matches!(
            apply_patches(&Map::new(), &[StatePatch::set_path("/a~2", json!(1))]),
            Err(PatchError::InvalidPath { index: 0, .. })
        ));
    }

    #[test]
    fn arrays() {
        let s = obj(json!({"log": [1, 2]}));
        let n = apply_patches(
            &s,
            &[
                StatePatch::set_path("/log/0", json!(0)),
                StatePatch::set_path("/log/-", json!(3)),
                StatePatch::remove("/log/1"),
                StatePatch::append("/log", json!(4)),
            ],
        )
        .unwrap();
        assert_eq!(Value::Object(n), json!({"log": [0, 3, 4]}));
        for bad in ["/log/9", "/log/01", "/log/x"] {
            assert!(
                matches!(
                    apply_patches(&s, &[StatePatch::set_path(bad, json!(1))]),
                    Err(PatchError::TypeMismatch { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_leave_nothing_applied() {
        let s = obj(json!({"n": 1}));
        let err =
            apply_patches(&s, &[StatePatch::set_path("/ok", json!(1)), StatePatch::set_path("/n/deeper", json!(2))])
                .unwrap_err();
        assert_eq!(err.index(), 1);
        assert!(err.to_string().starts_with("patches[1].path"), "{err}");
        let err = apply_patches(&s, &[StatePatch::new("merge", "/n", json!(1))]).unwrap_err();
        assert_eq!(err, PatchError::UnknownOp { index: 0, op: "merge".into() });
        assert!(matches!(
            apply_patches(&s, &[StatePatch::append("/n", json!(1))]),
            Err(PatchError::TypeMismatch { .. })
        ));
        assert!(matches!(apply_patches(&s, &[StatePatch::remove("")]), Err(PatchError::InvalidPath { .. })));
        assert!(matches!(
            apply_patches(&s, &[StatePatch::set_path("", json!(1))]),
            Err(PatchError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn root_and_missing_removes() {
        let s = obj(json!({"n": 1}));
        let n = apply_patches(
            &s,
            &[
                StatePatch::set_path("", json!({"m": 2})),
                StatePatch::remove("/gone"),
                StatePatch::remove("/gone/deeper"),
            ],
        )
        .unwrap();
        assert_eq!(Value::Object(n), json!({"m": 2}));
    }

    #[test]
    fn op_aliases_parse() {
        let p: StatePatch = serde_json::from_value(json!({"op": "replace", "path": "/a"})).unwrap();
        assert_eq!(p.op, PatchOp::Set);
        assert_eq!(p.value, Value::Null);
    }

    #[test]
    fn set_key_is_one_key_and_set_path_a_pointer() {
        assert_eq!(StatePatch::set_key("a/b", 1).path, "/a~1b");
        assert_eq!(StatePatch::set_key("t~x", 1).path, "/t~0x");
        assert_eq!(StatePatch::set_path("/a/b", 1).path, "/a/b");
        let n = apply_patches(&Map::new(), &[StatePatch::set_key("a/b", 1), StatePatch::set_path("/a/b", 2)]).unwrap();
        assert_eq!(Value::Object(n), json!({"a/b": 1, "a": {"b": 2}}));
    }

    #[test]
    fn constructors_take_anything_into_a_value() {
        let key = String::from("name");
        let patches = [
            StatePatch::set_key(&key, "Alma"),
            StatePatch::set_path("/n", 3),
            StatePatch::set_path("/ok", true),
            StatePatch::append("/log", String::from("x")),
            StatePatch::new(PatchOp::Set, "/v", json!([1])),
        ];
        let n = apply_patches(&Map::new(), &patches).unwrap();
        assert_eq!(Value::Object(n), json!({"name": "Alma", "n": 3, "ok": true, "log": ["x"], "v": [1]}));
    }

    #[test]
    #[allow(deprecated)]
    fn deprecated_set_still_takes_a_pointer() {
        assert_eq!(StatePatch::set("/a/b", 1), StatePatch::set_path("/a/b", 1));
    }
}

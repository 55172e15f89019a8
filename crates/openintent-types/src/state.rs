//! Reading an intent's state document without panicking: [`Intent::state_value`] and
//! [`Intent::state_at`], both addressed by an RFC 6901 JSON pointer.
//!
//! `intent.state` is a [`Map`], whose `[]` operator panics on a missing key; these accessors
//! answer `None` instead, and [`Intent::state_at`] turns a present value of the wrong type into
//! a [`StateReadError`] that names the pointer.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::intents::Intent;
use crate::patch::{escape_token, parse_pointer};

/// Reading a member of an intent's state failed ([`Intent::state_at`]).
///
/// An absent member is not an error (`Ok(None)`); this is for a pointer that cannot be parsed
/// and for a value that is present but is not of the requested type.
///
/// ```
/// use openintent_types::{Intent, StateReadError};
/// use serde_json::json;
///
/// let mut intent = Intent::new("i-1", "Book hotel");
/// intent.state.insert("nights".into(), json!("three"));
/// let err = intent.state_at::<u32>("/nights").unwrap_err();
/// assert_eq!(err.pointer(), "/nights");
/// assert!(matches!(err, StateReadError::WrongType { .. }));
/// assert_eq!(err.to_string(), r#"state /nights: invalid type: string "three", expected u32"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateReadError {
    /// The pointer is not an RFC 6901 JSON pointer (a `~` not followed by `0` or `1`).
    #[error("state pointer {pointer:?} is invalid: {reason}")]
    InvalidPointer {
        /// The pointer given.
        pointer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The value is present but does not deserialize into the requested type.
    #[error("state {pointer}: {message}")]
    WrongType {
        /// The member that failed, as a JSON pointer: the requested one, or a member inside it
        /// when a nested field has the wrong type (`/config/depth` for a struct read at
        /// `/config`).
        pointer: String,
        /// The requested Rust type.
        type_name: &'static str,
        /// What serde reported (`invalid type: string "x", expected u32`, `missing field ...`).
        message: String,
    },
}

impl StateReadError {
    /// The pointer the error is about (for [`WrongType`](Self::WrongType), the member that
    /// failed).
    pub fn pointer(&self) -> &str {
        match self {
            StateReadError::InvalidPointer { pointer, .. } | StateReadError::WrongType { pointer, .. } => pointer,
        }
    }
}

/// The value at `pointer` in `state`, or `None` when absent. The empty pointer is the whole
/// document.
fn lookup<'a>(state: &'a Map<String, Value>, tokens: &[String]) -> Option<&'a Value> {
    let (first, rest) = tokens.split_first()?;
    let mut cur = state.get(first.as_str())?;
    for token in rest {
        cur = match cur {
            Value::Object(map) => map.get(token.as_str())?,
            Value::Array(items) => items.get(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// An RFC 6901 array index: decimal digits without a leading zero (`-` addresses nothing).
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// `/a/b` for the tokens `a`, `b` (escaped), `""` for none.
fn to_pointer<'t>(tokens: impl IntoIterator<Item = &'t str>) -> String {
    tokens.into_iter().map(|t| format!("/{}", escape_token(t))).collect()
}

impl Intent {
    /// The raw value at an RFC 6901 JSON pointer into [`state`](Intent::state), or `None` when
    /// nothing is there. Never panics.
    ///
    /// - `"/progress"` is the top-level member `progress`; `"/trip/hotel/name"` a nested one;
    ///   `"/log/0"` the first element of an array. `~1` stands for `/` and `~0` for `~` inside
    ///   a key (`"/a~1b"` is the key `a/b`).
    /// - The leading `/` may be left out (`"progress"` reads as `"/progress"`), as in state
    ///   patches.
    /// - `""` addresses the whole document, which is an object map and not a [`Value`], so it
    ///   gives `None` here; read it with [`state_at`](Self::state_at) or use `state` itself.
    /// - A member whose value is `null` gives `Some(&Value::Null)`; a malformed pointer gives
    ///   `None`.
    ///
    /// ```
    /// use openintent_types::Intent;
    /// use serde_json::json;
    ///
    /// let mut intent = Intent::new("i-1", "Book hotel");
    /// intent.state.insert("trip".into(), json!({"hotel": {"name": "Alma"}, "log": ["booked"]}));
    ///
    /// assert_eq!(intent.state_value("/trip/hotel/name"), Some(&json!("Alma")));
    /// assert_eq!(intent.state_value("/trip/log/0"), Some(&json!("booked")));
    /// assert_eq!(intent.state_value("/missing"), None); // `intent.state["missing"]` would panic
    /// ```
    pub fn state_value(&self, pointer: &str) -> Option<&Value> {
        lookup(&self.state, &parse_pointer(pointer).ok()?)
    }

    /// The value at an RFC 6901 JSON pointer into [`state`](Intent::state), deserialized as
    /// `T`. Never panics.
    ///
    /// - Absent (or `null`) → `Ok(None)`.
    /// - Present and a `T` → `Ok(Some(value))`. `T` may borrow from the intent (`&str`).
    /// - Present but not a `T` → [`StateReadError::WrongType`], naming the pointer of the
    ///   member that failed.
    /// - A malformed pointer → [`StateReadError::InvalidPointer`].
    ///
    /// Pointers are read as in [`state_value`](Self::state_value); `""` is the whole state
    /// (for example to read it into a struct). The client's `Error` converts from
    /// [`StateReadError`], so `?` works in functions returning it.
    ///
    /// ```
    /// use openintent_types::Intent;
    /// use serde::Deserialize;
    /// use serde_json::json;
    ///
    /// let mut intent = Intent::new("i-1", "Research");
    /// intent.state.insert("progress".into(), json!(0.5));
    /// intent.state.insert("config".into(), json!({"mode": "fast", "depth": 2}));
    ///
    /// assert_eq!(intent.state_at::<f64>("/progress").unwrap(), Some(0.5));
    /// assert_eq!(intent.state_at::<&str>("/config/mode").unwrap(), Some("fast"));
    /// assert_eq!(intent.state_at::<u32>("/missing").unwrap(), None);
    /// let count = intent.state_at::<i64>("/count").unwrap().unwrap_or(0);
    /// assert_eq!(count, 0);
    ///
    /// #[derive(Deserialize)]
    /// struct Config { mode: String, depth: u32 }
    /// let config: Config = intent.state_at("/config").unwrap().unwrap();
    /// assert_eq!((config.mode.as_str(), config.depth), ("fast", 2));
    ///
    /// // Present, but not a string:
    /// let err = intent.state_at::<String>("/progress").unwrap_err();
    /// assert_eq!(err.pointer(), "/progress");
    /// ```
    pub fn state_at<'a, T>(&'a self, pointer: &str) -> Result<Option<T>, StateReadError>
    where
        T: Deserialize<'a>,
    {
        let tokens = parse_pointer(pointer)
            .map_err(|reason| StateReadError::InvalidPointer { pointer: pointer.to_owned(), reason })?;
        let base = to_pointer(tokens.iter().map(String::as_str));
        let result = if tokens.is_empty() {
            serde_path_to_error::deserialize(&self.state)
        } else {
            match lookup(&self.state, &tokens) {
                None | Some(Value::Null) => return Ok(None),
                Some(value) => serde_path_to_error::deserialize(value),
            }
        };
        result.map(Some).map_err(|e| {
            let inner = e.path().iter().filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => None,
            });
            let inner: Vec<String> = inner.collect();
            StateReadError::WrongType {
                pointer: format!("{base}{}", to_pointer(inner.iter().map(String::as_str))),
                type_name: std::any::type_name::<T>(),
                message: e.into_inner().to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn intent(state: Value) -> Intent {
        let mut i = Intent::new("i-1", "t");
        i.state = state.as_object().cloned().unwrap();
        i
    }

    #[test]
    fn absent_members_are_none_not_a_panic() {
        let i = intent(json!({"a": {"b": [1, 2]}, "s": "x", "nul": null}));
        for p in
            ["/missing", "/a/missing", "/a/b/2", "/a/b/-", "/a/b/01", "/a/b/x", "/s/deeper", "/nul/deeper", "/a/b/0/x"]
        {
            assert_eq!(i.state_value(p), None, "{p}");
            assert_eq!(i.state_at::<Value>(p), Ok(None), "{p}");
            assert_eq!(i.state_at::<u32>(p), Ok(None), "{p}");
        }
        assert_eq!(i.state_value("/nul"), Some(&Value::Null));
        assert_eq!(i.state_at::<u32>("/nul"), Ok(None), "null reads as absent");
        assert_eq!(intent(json!({})).state_at::<String>("/x"), Ok(None));
    }

    #[test]
    fn present_members_are_read_and_typed() {
        let i = intent(json!({"a": {"b": [1, 2]}, "s": "x", "a/b": {"c~d": true}, "": 7}));
        assert_eq!(i.state_value("/a/b/1"), Some(&json!(2)));
        assert_eq!(i.state_at::<u8>("/a/b/1"), Ok(Some(2)));
        assert_eq!(i.state_at::<Vec<i64>>("/a/b"), Ok(Some(vec![1, 2])));
        assert_eq!(i.state_at::<&str>("/s"), Ok(Some("x")));
        assert_eq!(i.state_at::<String>("s"), Ok(Some("x".to_owned())), "leading slash optional");
        assert_eq!(i.state_at::<bool>("/a~1b/c~0d"), Ok(Some(true)), "escaped tokens");
        assert_eq!(i.state_at::<i32>("/"), Ok(Some(7)), "`/` is the empty key");
        let whole: Map<String, Value> = i.state_at("").unwrap().unwrap();
        assert_eq!(whole, i.state);
        assert_eq!(i.state_value(""), None);
    }

    #[test]
    fn wrong_types_name_the_pointer() {
        let i = intent(json!({"progress": "half", "config": {"mode": "fast", "depth": "deep"}, "list": [1, "two"]}));
        let err = i.state_at::<f64>("/progress").unwrap_err();
        assert_eq!(err.pointer(), "/progress");
        assert_eq!(err.to_string(), r#"state /progress: invalid type: string "half", expected f64"#);
        assert!(matches!(err, StateReadError::WrongType { type_name: "f64", .. }));

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Config {
            mode: String,
            depth: u32,
        }
        let err = i.state_at::<Config>("config").unwrap_err();
        assert_eq!(err.pointer(), "/config/depth", "{err}");
        let err = i.state_at::<Vec<u8>>("/list").unwrap_err();
        assert_eq!(err.pointer(), "/list/1", "{err}");
        let err = i.state_at::<Config>("").unwrap_err();
        assert_eq!(err.pointer(), "", "{err}");
        assert!(err.to_string().contains("missing field `mode`"), "{err}");
    }

    #[test]
    fn malformed_pointers_are_an_error_naming_them() {
        let i = intent(json!({"a~": 1}));
        let err = i.state_at::<u8>("/a~").unwrap_err();
        assert!(matches!(&err, StateReadError::InvalidPointer { pointer, .. } if pointer == "/a~"), "{err:?}");
        assert_eq!(err.pointer(), "/a~");
        assert!(err.to_string().contains("\"/a~\""), "{err}");
        assert_eq!(i.state_value("/a~"), None);
        assert_eq!(i.state_at::<u8>("/a~0"), Ok(Some(1)));
    }
}

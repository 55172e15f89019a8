//! Limits every implementation shares: how deeply a stored JSON document may nest.
//!
//! `serde_json` refuses to parse a document nested 128 levels or more (its recursion limit), so
//! a document written deeper could be stored but never read back. Servers refuse, and clients
//! check before sending, anything nested deeper than [`MAX_JSON_DEPTH`]: a state after its
//! patches, an event payload, metadata, constraints, a policy, a message, ...
//!
//! ```
//! use openintent_types::limits::{MAX_JSON_DEPTH, json_depth, json_text_depth};
//! use serde_json::json;
//! assert_eq!(json_depth(&json!(1)), 0);
//! assert_eq!(json_depth(&json!({"a": [1, {"b": {}}]})), 4);
//! assert_eq!(json_text_depth(r#"{"a": "[[[", "b": [1, {"c": {}}]}"#), 4);
//! assert!(MAX_JSON_DEPTH < 128);
//! ```

use serde_json::Value;

/// The deepest a JSON document the protocol stores may nest (objects and arrays, counting the
/// outermost one): 64, half of `serde_json`'s recursion limit, which leaves room for the
/// envelopes a stored document is later wrapped in (an event, a stream message).
pub const MAX_JSON_DEPTH: usize = 64;

/// How many objects and arrays `value` nests, counting itself (a scalar is 0, `{}` is 1,
/// `{"a": []}` is 2). Walks without recursion, so any depth is measured safely.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, above)) = stack.pop() {
        let here = match v {
            Value::Array(items) => {
                stack.extend(items.iter().map(|i| (i, above + 1)));
                above + 1
            }
            Value::Object(map) => {
                stack.extend(map.values().map(|i| (i, above + 1)));
                above + 1
            }
            _ => above,
        };
        deepest = deepest.max(here);
    }
    deepest
}

/// [`json_depth`] of a serialized JSON document, read from its text without parsing it
/// (brackets inside strings do not count). The text is assumed to be valid JSON.
pub fn json_text_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(n: usize) -> Value {
        let mut v = json!(1);
        for i in 0..n {
            v = if i % 2 == 0 { json!([v]) } else { json!({ "k": v }) };
        }
        v
    }

    #[test]
    fn both_measures_agree_and_ignore_brackets_in_strings() {
        for n in [0, 1, 2, 63, 64, 65, 127, 200] {
            let v = nested(n);
            assert_eq!(json_depth(&v), n);
            assert_eq!(json_text_depth(&v.to_string()), n);
        }
        assert_eq!(json_text_depth(r#"{"a": "\"[{", "b": "\\"}"#), 1);
        assert_eq!(json_depth(&json!({"a": [], "b": {"c": [[]]}})), 4);
    }

    #[test]
    fn documents_at_the_limit_read_back() {
        let text = nested(MAX_JSON_DEPTH).to_string();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        // Twice the limit is beyond what serde_json reads back.
        assert!(serde_json::from_str::<Value>(&nested(2 * MAX_JSON_DEPTH).to_string()).is_err());
    }
}

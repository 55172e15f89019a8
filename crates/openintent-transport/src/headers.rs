//! A small case-insensitive header multimap.

use std::fmt;

/// Header names whose values never appear in `Debug` output.
const SENSITIVE: &[&str] = &["x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Whether the values of this header are secrets that must not be logged.
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// HTTP headers: an ordered multimap from names to values.
///
/// Names compare case-insensitively and are stored in lowercase. The same
/// name may appear several times ([`append`](Self::append)); [`insert`](Self::insert)
/// replaces every earlier value. `Debug` prints `x-api-key`, `authorization`,
/// `proxy-authorization`, `cookie` and `set-cookie` values as `<redacted>`.
///
/// ```
/// use openintent_transport::Headers;
///
/// let mut h = Headers::new();
/// h.insert("X-API-Key", "secret");
/// h.append("Accept", "application/json");
/// h.append("accept", "text/plain");
/// assert_eq!(h.get("x-api-key"), Some("secret"));
/// assert_eq!(h.get_all("ACCEPT").collect::<Vec<_>>(), ["application/json", "text/plain"]);
/// assert!(!format!("{h:?}").contains("secret"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in insertion order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, removing any earlier values of `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into().to_ascii_lowercase();
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, value.into()));
    }

    /// Adds a value for `name`, keeping earlier values.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into().to_ascii_lowercase(), value.into()));
    }

    /// Removes every value of `name`; returns the first removed value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let mut first = None;
        let mut kept = Vec::with_capacity(self.entries.len());
        for (n, v) in self.entries.drain(..) {
            if n.eq_ignore_ascii_case(name) {
                if first.is_none() {
                    first = Some(v);
                }
            } else {
                kept.push((n, v));
            }
        }
        self.entries = kept;
        first
    }

    /// All `(name, value)` pairs in insertion order; names are lowercase.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of `(name, value)` pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (n, v) in &self.entries {
            if is_sensitive_header(n) {
                map.entry(n, &"<redacted>");
            } else {
                map.entry(n, v);
            }
        }
        map.finish()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        h.extend(iter);
        h
    }
}

impl<N: Into<String>, V: Into<String>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (n, v) in iter {
            self.append(n, v);
        }
    }
}

impl IntoIterator for Headers {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> (&'a str, &'a str)>;

    fn into_iter(self) -> Self::IntoIter {
        fn pair(e: &(String, String)) -> (&str, &str) {
            (e.0.as_str(), e.1.as_str())
        }
        self.entries.iter().map(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_append_keeps() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.append("a", "2");
        h.append("B", "3");
        assert_eq!(h.len(), 3);
        h.insert("A", "9");
        assert_eq!(h.get_all("a").collect::<Vec<_>>(), ["9"]);
        assert_eq!(h.get("b"), Some("3"));
        assert_eq!(h.remove("B").as_deref(), Some("3"));
        assert!(!h.contains("b"));
        assert_eq!(h.remove("missing"), None);
    }

    #[test]
    fn debug_redacts_secrets_in_any_case() {
        let h: Headers = [("X-Api-Key", "k-123"), ("Authorization", "Bearer t-456"), ("X-Agent-ID", "agent-7")]
            .into_iter()
            .collect();
        let dbg = format!("{h:?}");
        assert!(!dbg.contains("k-123"), "{dbg}");
        assert!(!dbg.contains("t-456"), "{dbg}");
        assert!(dbg.contains("agent-7"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn iteration_preserves_order() {
        let h: Headers = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        let v: Vec<_> = (&h).into_iter().collect();
        assert_eq!(v, [("b", "1"), ("a", "2"), ("b", "3")]);
    }
}

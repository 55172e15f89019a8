//! The values a statement binds ([`Arg`]), shared by both drivers: `lite.rs` binds them for
//! SQLite, `driver.rs` for PostgreSQL (the table in the driver's module documentation).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A value bound to a placeholder; `None` binds SQL `NULL` (typed, which PostgreSQL needs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg<'q> {
    /// `TEXT`.
    Text(Option<Cow<'q, str>>),
    /// `INTEGER` / `BIGINT`.
    Int(Option<i64>),
    /// `REAL` / `DOUBLE PRECISION`.
    Float(Option<f64>),
    /// SQLite `INTEGER` 0 or 1; PostgreSQL `BOOLEAN`.
    Bool(Option<bool>),
    /// `BLOB` / `BYTEA`.
    Bytes(Option<Cow<'q, [u8]>>),
    /// SQLite `TEXT` in the wire format; PostgreSQL `TIMESTAMPTZ`.
    Timestamp(Option<DateTime<Utc>>),
    /// A serialized JSON document: SQLite `TEXT`; PostgreSQL `JSONB`.
    Json(Option<String>),
}

/// A JSON document serialized for binding ([`Arg::Json`]): text on SQLite, `JSONB` on PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonDoc(pub(crate) String);

impl JsonDoc {
    /// Serializes `v`.
    pub(crate) fn of<T: serde::Serialize + ?Sized>(v: &T) -> JsonDoc {
        JsonDoc(serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned()))
    }
}

macro_rules! arg_from {
    ($variant:ident: $($t:ty => $f:expr),* $(,)?) => {$(
        impl<'q> From<$t> for Arg<'q> {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(($f)(v))
            }
        }
    )*};
}

arg_from!(Text:
    &'q str => |v: &'q str| Some(Cow::Borrowed(v)),
    &'q String => |v: &'q String| Some(Cow::Borrowed(v.as_str())),
    String => |v: String| Some(Cow::Owned(v)),
    Option<&'q str> => |v: Option<&'q str>| v.map(Cow::Borrowed),
    Option<String> => |v: Option<String>| v.map(Cow::Owned),
    &'q Option<String> => |v: &'q Option<String>| v.as_deref().map(Cow::Borrowed),
);
arg_from!(Int:
    i64 => Some,
    Option<i64> => |v| v,
);
arg_from!(Float:
    f64 => Some,
    Option<f64> => |v| v,
);
arg_from!(Bool:
    bool => Some,
    Option<bool> => |v| v,
);
arg_from!(Bytes:
    &'q [u8] => |v: &'q [u8]| Some(Cow::Borrowed(v)),
    Vec<u8> => |v: Vec<u8>| Some(Cow::Owned(v)),
);
arg_from!(Timestamp:
    DateTime<Utc> => Some,
    &DateTime<Utc> => |v: &DateTime<Utc>| Some(*v),
    Option<DateTime<Utc>> => |v| v,
);
arg_from!(Json:
    JsonDoc => |v: JsonDoc| Some(v.0),
    Option<JsonDoc> => |v: Option<JsonDoc>| v.map(|d| d.0),
    Value => |v: Value| Some(v.to_string()),
    &Value => |v: &Value| Some(v.to_string()),
);

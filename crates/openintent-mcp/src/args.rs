//! Reading a tool call's arguments: typed, with errors that name the argument.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::ToolError;

/// The arguments of one tool call (a JSON object).
#[derive(Debug, Default)]
pub(crate) struct Args(Map<String, Value>);

impl Args {
    /// Wraps the call's arguments; `null` members count as absent.
    pub(crate) fn new(map: Map<String, Value>) -> Args {
        Args(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
    }

    /// The names given.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A required argument of any type `T` (read with serde).
    pub(crate) fn req<T: DeserializeOwned>(&self, name: &str) -> Result<T, ToolError> {
        self.opt(name)?.ok_or_else(|| ToolError::arg(name, format!("{name} is required")))
    }

    /// An optional argument of any type `T` (read with serde).
    pub(crate) fn opt<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| ToolError::arg(name, format!("{name} is not valid: {e}"))),
        }
    }

    /// A required string.
    pub(crate) fn str(&self, name: &str) -> Result<String, ToolError> {
        self.opt_str(name)?.ok_or_else(|| ToolError::arg(name, format!("{name} is required (a string)")))
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<String>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ToolError::arg(name, format!("{name} must be a string"))),
        }
    }

    /// A required integer.
    pub(crate) fn int(&self, name: &str) -> Result<i64, ToolError> {
        self.opt_int(name)?.ok_or_else(|| ToolError::arg(name, format!("{name} is required (an integer)")))
    }

    /// An optional integer.
    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| ToolError::arg(name, format!("{name} must be an integer"))),
        }
    }

    /// An optional non-negative integer that fits in 32 bits.
    pub(crate) fn opt_u32(&self, name: &str) -> Result<Option<u32>, ToolError> {
        match self.opt_int(name)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| ToolError::arg(name, format!("{name} must be between 0 and {}", u32::MAX))),
        }
    }

    /// A required number.
    pub(crate) fn num(&self, name: &str) -> Result<f64, ToolError> {
        self.opt_num(name)?.ok_or_else(|| ToolError::arg(name, format!("{name} is required (a number)")))
    }

    /// An optional number.
    pub(crate) fn opt_num(&self, name: &str) -> Result<Option<f64>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| ToolError::arg(name, format!("{name} must be a number"))),
        }
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ToolError::arg(name, format!("{name} must be true or false"))),
        }
    }

    /// An optional JSON object.
    pub(crate) fn opt_obj(&self, name: &str) -> Result<Option<Value>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(ToolError::arg(name, format!("{name} must be a JSON object"))),
        }
    }

    /// An optional value of any JSON type.
    pub(crate) fn opt_value(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }

    /// An optional list of strings.
    pub(crate) fn opt_strs(&self, name: &str) -> Result<Option<Vec<String>>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| ToolError::arg(name, format!("{name} must be a list of strings"))),
            Some(_) => Err(ToolError::arg(name, format!("{name} must be a list of strings"))),
        }
    }

    /// An optional timestamp (RFC 3339, or ISO 8601 without an offset, read as UTC).
    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ToolError> {
        let Some(s) = self.opt_str(name)? else { return Ok(None) };
        if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
        s.parse::<chrono::NaiveDateTime>().map(|t| Some(t.and_utc())).map_err(|_| {
            ToolError::arg(name, format!("{name} must be a timestamp such as 2026-11-24T13:46:05Z, got {s:?}"))
        })
    }

    /// The arguments less `skip` (path arguments), read as a request body of type `T`; an
    /// error names the field at fault.
    pub(crate) fn body<T: DeserializeOwned>(&self, skip: &[&str]) -> Result<T, ToolError> {
        let body: Map<String, Value> =
            self.0.iter().filter(|(k, _)| !skip.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        serde_path_to_error::deserialize(Value::Object(body)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // Request types that read their fields themselves name the field in the message.
            let named = inner.split_once(": ").map(|(f, _)| f).filter(|f| self.0.contains_key(*f));
            match (path.as_str(), named) {
                (".", Some(field)) => ToolError::arg(field, inner.clone()),
                (".", None) => ToolError::arg("arguments", format!("the arguments are not valid: {inner}")),
                (field, _) => ToolError::arg(field, format!("{field} is not valid: {inner}")),
            }
        })
    }
}

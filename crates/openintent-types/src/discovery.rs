//! Discovery (`GET /.well-known/openintent.json`) and small acknowledgement bodies.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::wire::null_as_default;

wire_model! {
    /// The discovery document. Keep [`Discovery::raw`] for anything not modelled.
    ///
    /// Capabilities are advertised by servers but not reliable for feature detection (the
    /// reference lists `subscriptions` without serving them).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Discovery {
        /// Protocol name.
        #[serde(default, deserialize_with = "null_as_default")]
        pub protocol: String,
        /// Protocol version (`0.1`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub version: String,
        /// Capability names.
        #[serde(default, deserialize_with = "null_as_default")]
        pub capabilities: Vec<String>,
        /// Links to the RFCs.
        #[serde(default, rename = "rfcUrls", deserialize_with = "null_as_default")]
        pub rfc_urls: Vec<String>,
        /// Where the OpenAPI document is.
        #[serde(default, rename = "openApiUrl", skip_serializing_if = "Option::is_none")]
        pub openapi_url: Option<String>,
        /// Endpoint map, if the server sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub endpoints: Option<Value>,
        /// Every other key, as sent.
        #[serde(flatten)]
        pub raw: Map<String, Value>,
    }
    aliases {
        "rfcUrls" <= ["rfc_urls"],
        "openApiUrl" <= ["openapi_url", "openApiURL"],
    }
    also_emit {}
}

impl Discovery {
    /// Whether a capability is advertised.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c == name)
    }
}

wire_model! {
    /// A plain acknowledgement such as `{"message": "Lease released"}`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Ack {
        /// The message.
        #[serde(default, deserialize_with = "null_as_default")]
        pub message: String,
    }
    aliases {}
    also_emit {}
}

impl Ack {
    /// An acknowledgement with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Ack { message: message.into() }
    }
}

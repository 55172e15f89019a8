//! Attachments (RFC-0005): file references on intents.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, InputValidationError, Validate};
use crate::wire::null_as_default;

wire_model! {
    /// An attachment (PROTOCOL.md §5.5).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Attachment {
        /// Attachment id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// File name.
        pub filename: String,
        /// MIME type.
        #[serde(default, deserialize_with = "null_as_default")]
        pub mime_type: String,
        /// Size in bytes.
        #[serde(default, deserialize_with = "null_as_default")]
        pub size: i64,
        /// Where the content is (a URL; the seed's inline form is a `data:` URL).
        #[serde(default, deserialize_with = "null_as_default")]
        pub storage_url: String,
        /// Who added it (read from `created_by` or `uploaded_by`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub created_by: String,
        /// Free-form metadata (the seed's `description` lives here).
        #[serde(default, deserialize_with = "null_as_default")]
        pub metadata: Map<String, Value>,
        /// When it was added.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
    }
    aliases {
        "created_by" <= ["uploaded_by", "createdBy", "uploadedBy"],
        "mime_type" <= ["mimeType", "content_type"],
        "storage_url" <= ["storageUrl"],
        "intent_id" <= ["intentId"],
        "created_at" <= ["createdAt"],
    }
    also_emit { "created_by" => "uploaded_by" }
}

impl Attachment {
    /// The seed's description, from `metadata.description`.
    pub fn description(&self) -> Option<&str> {
        self.metadata.get("description").and_then(Value::as_str)
    }

    /// The content bytes when `storage_url` is a base64 `data:` URL (the seed's inline form).
    pub fn inline_content(&self) -> Option<Vec<u8>> {
        let rest = self.storage_url.strip_prefix("data:")?;
        let (meta, data) = rest.split_once(',')?;
        if !meta.ends_with(";base64") {
            return None;
        }
        base64::engine::general_purpose::STANDARD.decode(data).ok()
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/attachments`: the wire form (a file reference).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateAttachmentRequest {
        /// File name.
        pub filename: String,
        /// MIME type.
        pub mime_type: String,
        /// Size in bytes.
        pub size: i64,
        /// Where the content is.
        pub storage_url: String,
        /// Free-form metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases {
        "mime_type" <= ["mimeType", "content_type"],
        "storage_url" <= ["storageUrl"],
    }
    also_emit {}
}

impl CreateAttachmentRequest {
    /// A reference to content stored elsewhere.
    pub fn new(
        filename: impl Into<String>,
        mime_type: impl Into<String>,
        size: i64,
        storage_url: impl Into<String>,
    ) -> Self {
        CreateAttachmentRequest {
            filename: filename.into(),
            mime_type: mime_type.into(),
            size,
            storage_url: storage_url.into(),
            metadata: None,
        }
    }
}

/// The seed's `add_attachment(filename, content_type, content_base64, description)` form.
///
/// It maps to the wire form (PROTOCOL.md §6.7) with [`AttachmentUpload::into_request`]:
/// `mime_type = content_type`, `size` = decoded length, `storage_url =
/// data:<content_type>;base64,<content>`, `metadata.description = description`.
///
/// ```
/// use openintent_types::AttachmentUpload;
/// let req = AttachmentUpload::new("a.txt", "text/plain", "aGVsbG8=")
///     .with_description("greeting")
///     .into_request()
///     .unwrap();
/// assert_eq!(req.size, 5);
/// assert_eq!(req.storage_url, "data:text/plain;base64,aGVsbG8=");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AttachmentUpload {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The content, base64 (standard alphabet, padded).
    pub content_base64: String,
    /// Optional description.
    pub description: Option<String>,
}

impl AttachmentUpload {
    /// An upload of base64 content.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content_base64: impl Into<String>,
    ) -> Self {
        AttachmentUpload {
            filename: filename.into(),
            content_type: content_type.into(),
            content_base64: content_base64.into(),
            description: None,
        }
    }

    /// An upload of raw bytes (encoded here).
    pub fn from_bytes(filename: impl Into<String>, content_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self::new(filename, content_type, base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Validates and maps to the wire form.
    pub fn into_request(self) -> Result<CreateAttachmentRequest, InputValidationError> {
        let bytes = crate::validation::validate_attachment(&self.filename, &self.content_type, &self.content_base64)?;
        let mut metadata = None;
        if let Some(d) = self.description {
            let mut m = Map::new();
            m.insert("description".into(), Value::String(d));
            metadata = Some(m);
        }
        Ok(CreateAttachmentRequest {
            storage_url: format!("data:{};base64,{}", self.content_type, self.content_base64.trim()),
            size: bytes.len() as i64,
            filename: self.filename,
            mime_type: self.content_type,
            metadata,
        })
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreateAttachmentRequest {
    const FIELDS: &'static [Field] = &[
        req("filename", Kind::Str).text(255),
        req("mime_type", Kind::Str).mime(255),
        req("size", Kind::Int).min(0.0),
        req("storage_url", Kind::Str).text(0),
        opt("metadata", Kind::Obj),
    ];
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for CreateAttachmentRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

impl Validate for AttachmentUpload {
    fn validate(&self) -> validation::Result {
        validation::validate_attachment(&self.filename, &self.content_type, &self.content_base64).map(drop)
    }
}

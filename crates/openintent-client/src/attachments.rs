//! Attachments (RFC-0005): file references on intents.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `add_attachment(id, filename, content_type, content_base64, description?)` | [`Client::add_attachment`] | `POST …/attachments` |
//! | — | [`Client::add_attachment_upload`] ([`AttachmentUpload`]), [`Client::add_attachment_raw`] (wire form) | `POST …/attachments` |
//! | `get_attachments(id)` | [`Client::get_attachments`] | `GET …/attachments` |
//! | `delete_attachment(id, attachment_id)` | [`Client::delete_attachment`] | `DELETE …/attachments/{attachment_id}` |
//!
//! Servers store references, not bytes. The seed's base64 form becomes (DIVERGENCES.md D48)
//! `mime_type = content_type`, `size` = decoded length, `storage_url =
//! data:<content_type>;base64,<content>`, `metadata.description = description`;
//! [`Attachment::inline_content`](openintent_types::Attachment::inline_content) decodes it back.

use openintent_transport::Request;
use openintent_types::{Attachment, AttachmentUpload, CreateAttachmentRequest, Validate};

use crate::client::{Client, GenericClient, intent_path, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Adds an attachment from base64 content (the seed's form).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let attachment = client
    ///     .add_attachment("7f1c…", "quarterly_analysis.pdf", "application/pdf", "aGVsbG8=")
    ///     .description("Q4 financial analysis report")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn add_attachment(
        &self,
        intent_id: &str,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content_base64: impl Into<String>,
    ) -> AddAttachment<M> {
        self.add_attachment_upload(intent_id, AttachmentUpload::new(filename, content_type, content_base64))
    }

    /// Adds an attachment from an [`AttachmentUpload`] (e.g. built with
    /// [`AttachmentUpload::from_bytes`]).
    ///
    /// ```no_run
    /// use openintent_types::AttachmentUpload;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let upload = AttachmentUpload::from_bytes("notes.txt", "text/plain", b"hello");
    /// let attachment = client.add_attachment_upload("7f1c…", upload).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn add_attachment_upload(&self, intent_id: &str, upload: AttachmentUpload) -> AddAttachment<M> {
        AddAttachment { client: self.clone(), intent_id: intent_id.to_owned(), upload }
    }

    /// Adds an attachment in the wire form: a reference to content stored elsewhere.
    ///
    /// ```no_run
    /// use openintent_types::CreateAttachmentRequest;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let req = CreateAttachmentRequest::new("report.pdf", "application/pdf", 48_213, "s3://bucket/report.pdf");
    /// let attachment = client.add_attachment_raw("7f1c…", req).await?;
    /// # Ok(()) }
    /// ```
    pub fn add_attachment_raw(&self, intent_id: &str, request: CreateAttachmentRequest) -> M::Call<Attachment> {
        let path = intent_path(intent_id, "/attachments");
        self.call(|c| async move {
            let req = Client::with_body(Request::post(path?), &request)?;
            let mut a: Attachment = c.json(req).await?;
            if a.metadata.is_empty() {
                a.metadata = request.metadata.unwrap_or_default();
            }
            Ok(a)
        })
    }

    /// Lists the attachments of an intent (`GET …/attachments`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for a in client.get_attachments("7f1c…").await? {
    ///     println!("{} ({} bytes)", a.filename, a.size);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_attachments(&self, intent_id: &str) -> M::Call<Vec<Attachment>> {
        let path = intent_path(intent_id, "/attachments");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// Deletes an attachment (`DELETE …/attachments/{attachment_id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.delete_attachment("7f1c…", "2cdf…").await?;
    /// # Ok(()) }
    /// ```
    pub fn delete_attachment(&self, intent_id: &str, attachment_id: &str) -> M::Call<()> {
        let path =
            seg("attachment_id", attachment_id).and_then(|a| intent_path(intent_id, &format!("/attachments/{a}")));
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }
}

/// Builder of [`Client::add_attachment`] and [`Client::add_attachment_upload`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct AddAttachment<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    upload: AttachmentUpload,
}

impl<M: Mode> AddAttachment<M> {
    /// A description (sent as `metadata.description`).
    ///
    /// Example: [`Client::add_attachment`].
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.upload.description = Some(description.into());
        self
    }

    async fn run(self) -> Result<Attachment> {
        self.upload.validate()?;
        let request = self.upload.into_request()?;
        self.client.as_async().add_attachment_raw(&self.intent_id, request).await
    }
}
impl_send!(AddAttachment, Attachment, "add_attachment");

//! Attachments of an intent (references to files stored elsewhere).

use openintent_types::{Attachment, CreateAttachmentRequest};

use super::db::require_intent;
use super::driver::query;
use super::rows::{to_json, ts};
use super::{Store, StoreResult, new_id, now};
use crate::config::Role;
use crate::rules::ownership::{self, Access, Object};

impl Store {
    pub(crate) async fn add_attachment(
        &self,
        intent_id: &str,
        req: &CreateAttachmentRequest,
        created_by: &str,
    ) -> StoreResult<Attachment> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut a = Attachment::default();
        a.id = new_id();
        a.intent_id = intent_id.to_owned();
        a.filename = req.filename.clone();
        a.mime_type = req.mime_type.clone();
        a.size = req.size;
        a.storage_url = req.storage_url.clone();
        a.created_by = created_by.to_owned();
        a.metadata = req.metadata.clone().unwrap_or_default();
        a.created_at = t;
        query(
            "INSERT INTO attachments (id, intent_id, filename, mime_type, size, storage_url, created_by, metadata, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(intent_id)
        .bind(&a.filename)
        .bind(&a.mime_type)
        .bind(a.size)
        .bind(&a.storage_url)
        .bind(&a.created_by)
        .bind(to_json(&a.metadata))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    pub(crate) async fn list_attachments(&self, intent_id: &str) -> StoreResult<Vec<Attachment>> {
        let rows = query(
            "SELECT id, intent_id, filename, mime_type, size, storage_url, created_by, metadata, created_at \
             FROM attachments WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = Attachment::default();
                a.id = r.try_get("id")?;
                a.intent_id = r.try_get("intent_id")?;
                a.filename = r.try_get("filename")?;
                a.mime_type = r.try_get("mime_type")?;
                a.size = r.try_get("size")?;
                a.storage_url = r.try_get("storage_url")?;
                a.created_by = r.try_get("created_by")?;
                a.metadata = r.json("metadata")?;
                a.created_at = r.try_get("created_at")?;
                Ok(a)
            })
            .collect()
    }

    /// Deletes an attachment of the intent when `principal` (with `role`) may
    /// ([`ownership`]: its uploader, the intent's creator, an admin key); `false` when there is
    /// none.
    pub(crate) async fn delete_attachment(
        &self,
        intent_id: &str,
        attachment_id: &str,
        principal: &str,
        role: Role,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let owners = query(
            "SELECT a.created_by AS uploader, i.created_by AS intent_creator FROM attachments a \
             JOIN intents i ON i.id = a.intent_id WHERE a.id = $1 AND a.intent_id = $2",
        )
        .bind(attachment_id)
        .bind(intent_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(owners) = owners else { return Ok(false) };
        let uploader: Option<String> = owners.try_get("uploader")?;
        let intent_creator: Option<String> = owners.try_get("intent_creator")?;
        ownership::check(
            Object::Attachment,
            Access::Change,
            principal,
            role,
            &[uploader.as_deref(), intent_creator.as_deref()],
        )?;
        let done = query("DELETE FROM attachments WHERE id = $1 AND intent_id = $2")
            .bind(attachment_id)
            .bind(intent_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

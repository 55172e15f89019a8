//! The human inbox: everything waiting for a person, across the intents a caller may read.
//!
//! `GET /api/v1/inbox` answers `{"items": [...]}`, oldest first, each an [`InboxItem`]: a
//! pending approval request, an unanswered arbitration request, an intent suspended awaiting
//! input, or a pending escalation, with the intent's id, title and status beside it.
//! `GET /api/v1/subscribe/inbox` is a server-sent event stream saying when the list changes.
//! Neither route exists on the reference server.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::arbitration::Arbitration;
use crate::governance::{Approval, Escalation};
use crate::hitl::SuspensionRecord;
use crate::intents::IntentStatus;
use crate::wire::null_as_default;

wire_enum! {
    /// What an [`InboxItem`] waits for.
    pub enum InboxKind {
        /// A pending approval request (its [`Approval`]).
        Approval = "approval",
        /// An arbitration request with no decision recorded since (its [`Arbitration`]).
        Arbitration = "arbitration",
        /// An intent suspended awaiting input (its [`SuspensionRecord`]).
        Input = "input",
        /// A pending escalation (its [`Escalation`]).
        Escalation = "escalation",
    }
}

wire_model! {
    /// One entry of the human inbox (`GET /api/v1/inbox`).
    ///
    /// ```
    /// use openintent_types::{InboxItem, InboxKind, IntentStatus};
    /// let item: InboxItem = serde_json::from_str(r#"{
    ///     "kind": "approval", "intent_id": "i-1", "intent_title": "Refund order 12345",
    ///     "intent_status": "active", "created_at": "2026-12-03T10:00:00Z",
    ///     "item": {"id": "a-1", "intent_id": "i-1", "action": "complete", "status": "pending"}
    /// }"#).unwrap();
    /// assert_eq!(item.kind, InboxKind::Approval);
    /// assert_eq!(item.intent_status, IntentStatus::Active);
    /// assert_eq!(item.approval().unwrap().id, "a-1");
    /// assert!(item.escalation().is_none());
    /// ```
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct InboxItem {
        /// What the entry waits for.
        pub kind: InboxKind,
        /// The intent it belongs to.
        pub intent_id: String,
        /// The intent's title.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_title: String,
        /// The intent's status.
        #[serde(default)]
        pub intent_status: IntentStatus,
        /// When the request was made (the list's order).
        #[serde(with = "crate::time::wire")]
        pub created_at: DateTime<Utc>,
        /// The approval, arbitration, suspension record or escalation, as the per-intent routes
        /// answer it; read it typed with [`approval`](Self::approval), [`arbitration`](Self::arbitration),
        /// [`suspension`](Self::suspension) or [`escalation`](Self::escalation).
        #[serde(default)]
        pub item: Value,
    }
    aliases {}
    also_emit {}
}

impl InboxItem {
    fn read<T: DeserializeOwned>(&self, kind: InboxKind) -> Option<T> {
        if self.kind != kind {
            return None;
        }
        serde_json::from_value(self.item.clone()).ok()
    }

    /// The approval request, if this is an `approval` entry whose item reads as one.
    pub fn approval(&self) -> Option<Approval> {
        self.read(InboxKind::Approval)
    }

    /// The arbitration request, if this is an `arbitration` entry whose item reads as one.
    pub fn arbitration(&self) -> Option<Arbitration> {
        self.read(InboxKind::Arbitration)
    }

    /// The suspension record (its question and choices), if this is an `input` entry whose
    /// item reads as one.
    pub fn suspension(&self) -> Option<SuspensionRecord> {
        self.read(InboxKind::Input)
    }

    /// The escalation, if this is an `escalation` entry whose item reads as one.
    pub fn escalation(&self) -> Option<Escalation> {
        self.read(InboxKind::Escalation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(kind: &str, item: Value) -> InboxItem {
        serde_json::from_value(json!({
            "kind": kind, "intent_id": "i-1", "intent_title": "t", "intent_status": "suspended_awaiting_input",
            "created_at": "2026-12-03T10:00:00.123456Z", "item": item,
        }))
        .unwrap()
    }

    #[test]
    fn reads_each_kind_typed() {
        let input = entry("input", json!({"id": "s-1", "question": "ok?", "response_type": "text"}));
        assert_eq!(input.kind, InboxKind::Input);
        assert_eq!(input.suspension().unwrap().question, "ok?");
        assert!(input.approval().is_none() && input.arbitration().is_none() && input.escalation().is_none());

        let esc = entry("escalation", json!({"id": "e-1", "intent_id": "i-1", "reason": "stuck", "status": "pending"}));
        assert_eq!(esc.escalation().unwrap().reason, "stuck");
        assert!(esc.suspension().is_none());

        let arb = entry("arbitration", json!({"id": "r-1", "intent_id": "i-1", "reason": "conflict"}));
        assert_eq!(arb.arbitration().unwrap().id.as_deref(), Some("r-1"));
    }

    #[test]
    fn keeps_unknown_kinds_and_round_trips() {
        let future = entry("review", json!({"id": "x"}));
        assert_eq!(future.kind, InboxKind::Unknown("review".into()));
        assert!(!future.kind.is_known());
        assert!(future.approval().is_none());
        let back: InboxItem = serde_json::from_value(serde_json::to_value(&future).unwrap()).unwrap();
        assert_eq!(back, future);
        assert_eq!(serde_json::to_value(&future).unwrap()["kind"], "review");
    }

    #[test]
    fn missing_required_fields_fail_naming_them() {
        let err = serde_json::from_value::<InboxItem>(json!({"kind": "input", "created_at": "2026-12-03T10:00:00Z"}))
            .unwrap_err();
        assert!(err.to_string().contains("intent_id"), "{err}");
        let err = serde_json::from_value::<InboxItem>(json!({"kind": "input", "intent_id": "i"})).unwrap_err();
        assert!(err.to_string().contains("created_at"), "{err}");
    }
}

//! Per-intent access control (RFC-0011): ACLs, grants and access requests.
//!
//! | 0.17 SDK method | Rust | Wire |
//! |---|---|---|
//! | `get_acl(id)` | [`Client::get_acl`] | `GET …/acl` |
//! | `set_acl(id, default_policy=, entries=)` | [`Client::set_acl`]`.default_policy(..).entry(..)` | `PUT …/acl` (full replacement) |
//! | `grant_access(id, principal_id, principal_type=, permission=, reason=, expires_at=)` | [`Client::grant_access`]`.permission(..)...` | `POST …/acl/entries` |
//! | `revoke_access(id, entry_id)` | [`Client::revoke_access`] | `DELETE …/acl/entries/{entry_id}` (204) |
//! | `request_access(id, principal_id, principal_type=, permission=, reason=, capabilities=)` | [`Client::request_access`]`.permission(..)...` | `POST …/access-requests` |
//! | `list_access_requests(id)` | [`Client::list_access_requests`] | `GET …/access-requests` (envelope or bare array) |
//! | `approve_access_request(id, rid, permission=, expires_at=, reason=)` | [`Client::approve_access_request`] | `POST …/access-requests/{rid}/approve` (`decided_by` = agent id) |
//! | `deny_access_request(id, rid, reason=)` | [`Client::deny_access_request`] | `POST …/access-requests/{rid}/deny` (`decided_by` = agent id) |
//!
//! Unknown policies and levels a server stores (`owner`, ...) are kept as `Unknown(..)` instead
//! of failing the whole ACL; [`Acl::permission_of`](openintent_types::Acl::permission_of) gives
//! the highest unexpired level of a principal.

use chrono::{DateTime, Utc};
use openintent_transport::Request;
use openintent_types::{
    AccessPolicy, AccessRequest, Acl, AclEntry, CreateAccessRequest, DecideAccessRequest, GrantAccessRequest,
    Permission, PrincipalType, SetAclRequest,
};

use crate::client::{Client, GenericClient, intent_path, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// The intent's ACL (`GET …/acl`); an intent that never got one is open with no entries.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let acl = client.get_acl("7f1c…").await?;
    /// println!("{:?}: {} entries", acl.default_policy, acl.entries.len());
    /// let mine = acl.permission_of(client.agent_id(), chrono::Utc::now());
    /// # Ok(()) }
    /// ```
    pub fn get_acl(&self, intent_id: &str) -> M::Call<Acl> {
        let path = intent_path(intent_id, "/acl");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Replaces the whole ACL (`PUT …/acl`); with nothing set it resets it to open, no entries.
    ///
    /// ```no_run
    /// use openintent_types::{AccessPolicy, GrantAccessRequest, Permission};
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let acl = client
    ///     .set_acl("7f1c…")
    ///     .default_policy(AccessPolicy::Closed)
    ///     .entry(GrantAccessRequest::new("researcher", Permission::Write))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn set_acl(&self, intent_id: &str) -> SetAcl<M> {
        SetAcl { client: self.clone(), intent_id: intent_id.to_owned(), req: SetAclRequest::default() }
    }

    /// Adds an entry for `principal_id` (`POST …/acl/entries`; default level `read`).
    ///
    /// ```no_run
    /// use openintent_types::Permission;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let entry = client
    ///     .grant_access("7f1c…", "summarizer")
    ///     .permission(Permission::Write)
    ///     .reason("needs to write the summary")
    ///     .expires_at(chrono::Utc::now() + chrono::Duration::hours(1))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn grant_access(&self, intent_id: &str, principal_id: impl Into<String>) -> GrantAccess<M> {
        let mut req = GrantAccessRequest::default();
        req.principal_id = principal_id.into();
        GrantAccess { client: self.clone(), intent_id: intent_id.to_owned(), req }
    }

    /// Removes an entry (`DELETE …/acl/entries/{entry_id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.revoke_access("7f1c…", "entry-id").await?;
    /// # Ok(()) }
    /// ```
    pub fn revoke_access(&self, intent_id: &str, entry_id: &str) -> M::Call<()> {
        let path = seg("entry_id", entry_id).and_then(|e| intent_path(intent_id, &format!("/acl/entries/{e}")));
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }

    /// Asks for access for `principal_id` (`POST …/access-requests`; default level `write`).
    /// Needs no level on the intent.
    ///
    /// ```no_run
    /// use openintent_types::Permission;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let request = client
    ///     .request_access("7f1c…", client.agent_id())
    ///     .permission(Permission::Read)
    ///     .reason("to review the draft")
    ///     .capabilities(["review"])
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request_access(&self, intent_id: &str, principal_id: impl Into<String>) -> RequestAccess<M> {
        let mut req = CreateAccessRequest::default();
        req.principal_id = principal_id.into();
        RequestAccess { client: self.clone(), intent_id: intent_id.to_owned(), req }
    }

    /// Every access request of the intent, all statuses (`GET …/access-requests`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for r in client.list_access_requests("7f1c…").await? {
    ///     println!("{} asks for {:?}: {:?}", r.principal_id, r.requested_permission, r.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_access_requests(&self, intent_id: &str) -> M::Call<Vec<AccessRequest>> {
        let path = intent_path(intent_id, "/access-requests");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// Approves a pending request (`POST …/approve`, `decided_by` = the agent id): the server
    /// adds an entry for the requester.
    ///
    /// ```no_run
    /// use openintent_types::Permission;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let decided = client
    ///     .approve_access_request("7f1c…", "request-id")
    ///     .permission(Permission::Read)
    ///     .reason("read is enough")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn approve_access_request(&self, intent_id: &str, request_id: &str) -> DecideAccess<M> {
        self.decide(intent_id, request_id, "approve")
    }

    /// Denies a pending request (`POST …/deny`, `decided_by` = the agent id).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.deny_access_request("7f1c…", "request-id").reason("not needed").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn deny_access_request(&self, intent_id: &str, request_id: &str) -> DecideAccess<M> {
        self.decide(intent_id, request_id, "deny")
    }

    fn decide(&self, intent_id: &str, request_id: &str, action: &'static str) -> DecideAccess<M> {
        DecideAccess {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            request_id: request_id.to_owned(),
            action,
            req: DecideAccessRequest::new(self.agent_id()),
        }
    }
}

/// Builder of [`Client::set_acl`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct SetAcl<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: SetAclRequest,
}

impl<M: Mode> SetAcl<M> {
    /// What principals without an entry get (default `open`).
    ///
    /// Example: [`Client::set_acl`].
    pub fn default_policy(mut self, policy: AccessPolicy) -> Self {
        self.req.default_policy = Some(policy);
        self
    }

    /// Adds an entry.
    ///
    /// Example: [`Client::set_acl`].
    pub fn entry(mut self, entry: GrantAccessRequest) -> Self {
        self.req.entries.push(entry);
        self
    }

    /// Replaces the entries.
    ///
    /// Example: [`Client::set_acl`].
    pub fn entries(mut self, entries: impl IntoIterator<Item = GrantAccessRequest>) -> Self {
        self.req.entries = entries.into_iter().collect();
        self
    }

    async fn run(self) -> Result<Acl> {
        let request = Client::with_body(Request::put(intent_path(&self.intent_id, "/acl")?), &self.req)?;
        self.client.json(request).await
    }
}
impl_send!(SetAcl, Acl, "set_acl");

/// Builder of [`Client::grant_access`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct GrantAccess<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: GrantAccessRequest,
}

impl<M: Mode> GrantAccess<M> {
    /// The level (default `read`).
    ///
    /// Example: [`Client::grant_access`].
    pub fn permission(mut self, permission: Permission) -> Self {
        self.req.permission = Some(permission);
        self
    }

    /// The kind of principal (default `agent`).
    ///
    /// Example: [`Client::grant_access`].
    pub fn principal_type(mut self, principal_type: PrincipalType) -> Self {
        self.req.principal_type = Some(principal_type);
        self
    }

    /// Why.
    ///
    /// Example: [`Client::grant_access`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.req.reason = Some(reason.into());
        self
    }

    /// When the grant stops counting.
    ///
    /// Example: [`Client::grant_access`].
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.req.expires_at = Some(at);
        self
    }

    async fn run(self) -> Result<AclEntry> {
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/acl/entries")?), &self.req)?;
        self.client.json(request).await
    }
}
impl_send!(GrantAccess, AclEntry, "grant_access");

/// Builder of [`Client::request_access`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RequestAccess<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: CreateAccessRequest,
}

impl<M: Mode> RequestAccess<M> {
    /// The level asked for (default `write`).
    ///
    /// Example: [`Client::request_access`].
    pub fn permission(mut self, permission: Permission) -> Self {
        self.req.requested_permission = Some(permission);
        self
    }

    /// The kind of principal (default `agent`).
    ///
    /// Example: [`Client::request_access`].
    pub fn principal_type(mut self, principal_type: PrincipalType) -> Self {
        self.req.principal_type = Some(principal_type);
        self
    }

    /// Why.
    ///
    /// Example: [`Client::request_access`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.req.reason = Some(reason.into());
        self
    }

    /// What the principal can do.
    ///
    /// Example: [`Client::request_access`].
    pub fn capabilities<I: IntoIterator<Item = S>, S: Into<String>>(mut self, capabilities: I) -> Self {
        self.req.capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    async fn run(self) -> Result<AccessRequest> {
        let path = intent_path(&self.intent_id, "/access-requests")?;
        self.client.json(Client::with_body(Request::post(path), &self.req)?).await
    }
}
impl_send!(RequestAccess, AccessRequest, "request_access");

/// Builder of [`Client::approve_access_request`] and [`Client::deny_access_request`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct DecideAccess<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    request_id: String,
    action: &'static str,
    req: DecideAccessRequest,
}

impl<M: Mode> DecideAccess<M> {
    /// Approve only: the level granted (default: the one requested).
    ///
    /// Example: [`Client::approve_access_request`].
    pub fn permission(mut self, permission: Permission) -> Self {
        self.req.permission = Some(permission);
        self
    }

    /// Approve only: when the created entry expires.
    ///
    /// Example: [`Client::approve_access_request`].
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.req.expires_at = Some(at);
        self
    }

    /// Why.
    ///
    /// Example: [`Client::approve_access_request`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.req.reason = Some(reason.into());
        self
    }

    async fn run(self) -> Result<AccessRequest> {
        let suffix = format!("/access-requests/{}/{}", seg("request_id", &self.request_id)?, self.action);
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, &suffix)?), &self.req)?;
        self.client.json(request).await
    }
}
impl_send!(DecideAccess, AccessRequest, "approve_access_request");

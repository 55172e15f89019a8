//! Intents (RFC-0001): create, read, list, versioned state and status writes, agent assignment.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `create_intent(title, description?, constraints?)` | [`Client::create_intent`] | `POST /api/v1/intents` |
//! | `get_intent(id)` | [`Client::get_intent`] | `GET /api/v1/intents/{id}` |
//! | `list_intents(status?, limit, offset)` | [`Client::list_intents`] (+ [`ListIntents::into_stream`]) | `GET /api/v1/intents` |
//! | `update_state(id, version, dict)` | [`Client::update_state`] | `POST …/state` + `If-Match` |
//! | `set_status(id, version, status)` | [`Client::set_status`] | `POST …/status` + `If-Match` |
//! | `assign_agent(id, agent_id?)` | [`Client::assign_agent`] | `POST …/agents` |
//! | `unassign_agent(id, agent_id)` | [`Client::unassign_agent`] | `DELETE …/agents/{agent_id}` |
//! | — | [`Client::get_agents`] | `GET …/agents` |
//! | — | [`Client::update_state_with`] (read, patch, retry on 409) | `GET` + `POST …/state` |
//!
//! `update_state` always sends the patch form `{"patches":[{"op":"set","path":"/key",...}]}`
//! with a bare-integer `If-Match`, the only form every server accepts (DIVERGENCES.md D21).

use std::pin::Pin;

use futures_core::Stream;
use openintent_transport::Request;
use openintent_types::{
    AgentAssignment, AssignAgentRequest, CreateIntentRequest, Intent, IntentStatus, SetStatusRequest, StatePatch,
    UpdateStateRequest,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object, seg};
use crate::error::{Error, Result};
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Creates an intent (`POST /api/v1/intents`). `created_by` defaults to the agent id.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client
    ///     .create_intent("Research market trends")
    ///     .description("Analyze Q4 market data and identify patterns")
    ///     .constraints(json!({"deadline": "2024-02-01"}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn create_intent(&self, title: impl Into<String>) -> CreateIntent<M> {
        CreateIntent {
            client: self.clone(),
            req: CreateIntentRequest::new(title),
            constraints: None,
            state: None,
            policy: None,
        }
    }

    /// Reads an intent (`GET /api/v1/intents/{id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client.get_intent("7f1c…").await?;
    /// println!("{} is {} at version {}", intent.title, intent.status, intent.version);
    /// # Ok(()) }
    /// ```
    pub fn get_intent(&self, intent_id: &str) -> M::Call<Intent> {
        let path = intent_path(intent_id, "");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Lists intents (`GET /api/v1/intents`), one page per [`ListIntents::send`], or all of
    /// them with [`ListIntents::into_stream`]. Servers without the route (the reference
    /// answers 405) give an [`unsupported`](Error::is_unsupported) error.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let page = client.list_intents().status("active").limit(20).send().await?;
    /// let everything: Vec<_> = client.list_intents().into_stream().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list_intents(&self) -> ListIntents<M> {
        ListIntents {
            client: self.clone(),
            status: None,
            limit: None,
            offset: 0,
            cursor: None,
            created_by: None,
            parent_id: None,
        }
    }

    /// Writes state (`POST …/state` with `If-Match: <version>`); add patches with the
    /// builder's [`set`](UpdateState::set) (one top-level key),
    /// [`set_path`](UpdateState::set_path) (a JSON pointer), [`merge`](UpdateState::merge),
    /// [`append`](UpdateState::append), [`remove`](UpdateState::remove) or
    /// [`patch`](UpdateState::patch). Returns the intent at its new version; read its state
    /// with [`Intent::state_at`].
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client, intent: openintent_types::Intent) -> openintent_client::Result<()> {
    /// let updated = client
    ///     .update_state(&intent.id, intent.version)
    ///     .set("progress", 0.5)
    ///     .set("current_phase", "analysis")
    ///     .set_path("/trip/hotel/stars", 4)
    ///     .append("/log", json!({"step": "analysis"}))
    ///     .send()
    ///     .await?;
    /// assert_eq!(updated.version, intent.version + 1);
    /// assert_eq!(updated.state_at::<u8>("/trip/hotel/stars")?, Some(4));
    /// # Ok(()) }
    /// ```
    pub fn update_state(&self, intent_id: &str, version: i64) -> UpdateState<M> {
        UpdateState { client: self.clone(), intent_id: intent_id.to_owned(), version, patches: Vec::new(), error: None }
    }

    /// Changes the status (`POST …/status` with `If-Match: <version>`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client, intent: openintent_types::Intent) -> openintent_client::Result<()> {
    /// let done = client.set_status(&intent.id, intent.version, "completed").reason("all done").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn set_status(&self, intent_id: &str, version: i64, status: impl Into<IntentStatus>) -> SetStatus<M> {
        SetStatus { client: self.clone(), intent_id: intent_id.to_owned(), version, req: SetStatusRequest::new(status) }
    }

    /// Assigns an agent to the intent (`POST …/agents`); the agent defaults to this client's.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let me = client.assign_agent("7f1c…").send().await?;
    /// let other = client.assign_agent("7f1c…").agent_id("agent-synth").role("reviewer").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn assign_agent(&self, intent_id: &str) -> AssignAgent<M> {
        AssignAgent { client: self.clone(), intent_id: intent_id.to_owned(), req: AssignAgentRequest::default() }
    }

    /// Removes an agent from the intent (`DELETE …/agents/{agent_id}`). The reference server
    /// lacks this route ([`unsupported`](Error::is_unsupported)).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.unassign_agent("7f1c…", "agent-synth").await?;
    /// # Ok(()) }
    /// ```
    pub fn unassign_agent(&self, intent_id: &str, agent_id: &str) -> M::Call<()> {
        let path = seg("agent_id", agent_id).and_then(|a| intent_path(intent_id, &format!("/agents/{a}")));
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }

    /// Lists the agent assignments of an intent (`GET …/agents`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for a in client.get_agents("7f1c…").await? {
    ///     println!("{} as {}", a.agent_id, a.role);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_agents(&self, intent_id: &str) -> M::Call<Vec<AgentAssignment>> {
        let path = intent_path(intent_id, "/agents");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// Optimistic-concurrency helper: reads the intent, asks `compute` for patches, writes
    /// them with `If-Match`, and on a version conflict reads again and retries, up to
    /// [`UpdateStateWith::max_attempts`] times (default
    /// [`DEFAULT_CONFLICT_ATTEMPTS`](crate::DEFAULT_CONFLICT_ATTEMPTS) or the client's
    /// setting). Returns the written intent, the unchanged intent when `compute` returns no
    /// patches, or the last conflict.
    ///
    /// ```no_run
    /// use openintent_types::StatePatch;
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client
    ///     .update_state_with("7f1c…", |intent| {
    ///         let n = intent.state_at::<i64>("/count").ok().flatten().unwrap_or(0);
    ///         vec![StatePatch::set_key("count", n + 1)]
    ///     })
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn update_state_with<F>(&self, intent_id: &str, compute: F) -> UpdateStateWith<F, M>
    where
        F: FnMut(&Intent) -> Vec<StatePatch> + Send,
    {
        UpdateStateWith {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            compute,
            max_attempts: self.inner.conflict_attempts,
        }
    }
}

/// Builder of [`Client::create_intent`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct CreateIntent<M: Mode = Async> {
    client: GenericClient<M>,
    req: CreateIntentRequest,
    constraints: Option<Value>,
    state: Option<Value>,
    policy: Option<Value>,
}

impl<M: Mode> CreateIntent<M> {
    /// The description.
    ///
    /// Example: [`Client::create_intent`].
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.req.description = Some(description.into());
        self
    }

    /// Constraints (a JSON object, e.g. `json!({"deadline": "2024-02-01"})`).
    ///
    /// Example: [`Client::create_intent`].
    pub fn constraints(mut self, constraints: impl Into<Value>) -> Self {
        self.constraints = Some(constraints.into());
        self
    }

    /// The initial state (a JSON object; the seed's `initial_state`).
    ///
    /// Example: [`Client::create_intent`].
    pub fn initial_state(mut self, state: impl Into<Value>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The initial status (servers default to `draft`).
    ///
    /// Example: [`Client::create_intent`].
    pub fn status(mut self, status: impl Into<IntentStatus>) -> Self {
        self.req.status = Some(status.into());
        self
    }

    /// The creator (defaults to the client's agent id).
    ///
    /// Example: [`Client::create_intent`].
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.req.created_by = Some(created_by.into());
        self
    }

    /// The parent intent.
    ///
    /// Example: [`Client::create_intent`].
    pub fn parent_id(mut self, parent_id: impl Into<String>) -> Self {
        self.req.parent_intent_id = Some(parent_id.into());
        self
    }

    /// The governance policy (a JSON object: `write_scope`, `max_cost`, ...).
    ///
    /// Example: [`Client::create_intent`].
    pub fn governance_policy(mut self, policy: impl Into<Value>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Dependencies (RFC-0002). Servers that ignore them on create (the reference does) get
    /// them through `POST …/dependencies` right after, and the call returns the intent as it
    /// is then.
    ///
    /// Example: [`Client::create_intent`].
    pub fn depends_on<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.req.depends_on = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// The request body as it stands (before defaults are filled in).
    ///
    /// Example: [`Client::create_intent`].
    pub fn request(&self) -> &CreateIntentRequest {
        &self.req
    }

    async fn run(self) -> Result<Intent> {
        let mut req = self.req;
        if let Some(c) = self.constraints {
            req.constraints = Some(object("constraints", c)?);
        }
        if let Some(s) = self.state {
            req.state = Some(object("initial_state", s)?);
        }
        if let Some(p) = self.policy {
            req.governance_policy = Some(object("governance_policy", p)?);
        }
        if req.created_by.is_none() {
            req.created_by = Some(self.client.agent_id().to_owned());
        }
        let wanted = req.depends_on.clone().unwrap_or_default();
        let request = Client::with_body(Request::post("/api/v1/intents"), &req)?;
        let intent: Intent = self.client.json(request).await?;
        let missing: Vec<String> = wanted.into_iter().filter(|d| !intent.depends_on.contains(d)).collect();
        if missing.is_empty() {
            return Ok(intent);
        }
        // The server ignored `depends_on` on create (the reference does): add each dependency
        // through the dependency route, which is version-checked.
        let mut version = intent.version;
        for dep in missing {
            let body = serde_json::json!({ "dependency_id": dep }).to_string();
            let request = Request::post(intent_path(&intent.id, "/dependencies")?)
                .header("If-Match", version.to_string())
                .json_body(body);
            let answer: Value = self.client.json(request).await?;
            version = answer.get("version").and_then(Value::as_i64).unwrap_or(version + 1);
        }
        self.client.as_async().get_intent(&intent.id).await
    }
}
impl_send!(CreateIntent, Intent, "create_intent");

/// One page of a list, from [`ListIntents::send`] (example: [`Client::list_intents`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all, when the server says.
    pub total: Option<u64>,
    /// The offset of this page.
    pub offset: u32,
    /// The page size asked for.
    pub limit: u32,
    /// The cursor of the next page, from servers that answer one (ours: `next_cursor`, when
    /// more items follow); pass it to [`ListIntents::cursor`]. `None` from a server without
    /// the extension, and on a last page.
    pub next_cursor: Option<String>,
    /// Whether this page was read by cursor (its `offset` is then 0).
    by_cursor: bool,
}

impl<T> Page<T> {
    /// Whether more pages may follow: the server gave a [`next_cursor`](Self::next_cursor),
    /// or (a server that gives none, on a page read by offset) the page was full and the total
    /// (if known) is not reached.
    ///
    /// Example: [`Client::list_intents`].
    pub fn has_more(&self) -> bool {
        if self.next_cursor.is_some() {
            return true;
        }
        if self.by_cursor {
            return false;
        }
        let full = self.items.len() as u64 >= u64::from(self.limit) && self.limit > 0;
        let below_total = self.total.is_none_or(|t| u64::from(self.offset) + (self.items.len() as u64) < t);
        full && below_total
    }

    /// The offset of the next page.
    ///
    /// Example: [`Client::list_intents`].
    pub fn next_offset(&self) -> u32 {
        self.offset.saturating_add(self.items.len() as u32)
    }
}

/// The default page size of [`Client::list_intents`].
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Builder of [`Client::list_intents`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug, Clone)]
pub struct ListIntents<M: Mode = Async> {
    client: GenericClient<M>,
    status: Option<IntentStatus>,
    limit: Option<u32>,
    offset: u32,
    cursor: Option<String>,
    created_by: Option<String>,
    parent_id: Option<String>,
}

/// A stream of items that fetches pages lazily, from [`ListIntents::into_stream`] (example:
/// [`Client::list_intents`]).
pub type PageStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

impl<M: Mode> ListIntents<M> {
    /// Only intents with this status.
    ///
    /// Example: [`Client::list_intents`].
    pub fn status(mut self, status: impl Into<IntentStatus>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Page size (default 50).
    ///
    /// Example: [`Client::list_intents`].
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Items to skip.
    ///
    /// Example: [`Client::list_intents`].
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = offset;
        self
    }

    /// The page after the one whose [`Page::next_cursor`] this is (our servers' extension:
    /// the page starts where that one ended, in constant time however deep, and an intent
    /// created meanwhile neither repeats nor hides one). Replaces the offset: a non-zero
    /// offset is not sent with it. A server without the extension ignores it and answers the
    /// first page; the reference server has no list route (the call fails as unsupported).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let first = client.list_intents().limit(100).send().await?;
    /// if let Some(cursor) = &first.next_cursor {
    ///     let second = client.list_intents().limit(100).cursor(cursor).send().await?;
    ///     println!("{} more", second.items.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Only intents created by this principal.
    ///
    /// Example: [`Client::list_intents`].
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.created_by = Some(created_by.into());
        self
    }

    /// Only children of this intent.
    ///
    /// Example: [`Client::list_intents`].
    pub fn parent_id(mut self, parent_id: impl Into<String>) -> Self {
        self.parent_id = Some(parent_id.into());
        self
    }

    fn request(&self, offset: u32, limit: u32, cursor: Option<&str>) -> Request {
        let r = Request::get("/api/v1/intents").query("limit", limit.to_string());
        let mut r = match cursor {
            Some(c) => r.query("cursor", c.to_owned()),
            None => r.query("offset", offset.to_string()),
        };
        if let Some(s) = &self.status {
            r = r.query("status", s.as_str());
        }
        if let Some(c) = &self.created_by {
            r = r.query("created_by", c.clone());
        }
        if let Some(p) = &self.parent_id {
            r = r.query("parent_id", p.clone());
        }
        r
    }

    async fn page(&self, offset: u32, cursor: Option<&str>) -> Result<Page<Intent>> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut list = self.client.list::<Intent>(self.request(offset, limit, cursor)).await?;
        let next_cursor = match list.extra.remove("next_cursor") {
            Some(Value::String(c)) if !c.is_empty() => Some(c),
            _ => None,
        };
        let offset = if cursor.is_some() { 0 } else { offset };
        Ok(Page { items: list.items, total: list.total, offset, limit, next_cursor, by_cursor: cursor.is_some() })
    }

    async fn run(self) -> Result<Page<Intent>> {
        self.page(self.offset, self.cursor.as_deref()).await
    }

    /// Every matching intent, fetching the next page only when the previous one is used up.
    ///
    /// From a server that answers [`Page::next_cursor`] (ours), each next page is read by that
    /// cursor, and the walk ends on the page without one. From one that does not (the
    /// reference), by offset: it stops after a short page, at the total, or when the server
    /// ignores `offset` (the same first item twice). A cursor the server has already given
    /// once ends the walk (a server going round in circles cannot make it endless).
    ///
    /// Example: [`Client::list_intents`].
    pub fn into_stream(self) -> PageStream<Intent> {
        struct St<M: Mode> {
            b: ListIntents<M>,
            offset: u32,
            cursor: Option<String>,
            buf: std::vec::IntoIter<Intent>,
            done: bool,
            first_id: Option<String>,
            cursors_seen: std::collections::HashSet<String>,
        }
        let (offset, cursor) = (self.offset, self.cursor.clone());
        let cursors_seen = cursor.iter().cloned().collect();
        let st = St { b: self, offset, cursor, buf: Vec::new().into_iter(), done: false, first_id: None, cursors_seen };
        Box::pin(futures_util::stream::unfold(st, |mut st| async move {
            loop {
                if let Some(item) = st.buf.next() {
                    return Some((Ok(item), st));
                }
                if st.done {
                    return None;
                }
                match st.b.page(st.offset, st.cursor.as_deref()).await {
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    Ok(page) => {
                        let first = page.items.first().map(|i| i.id.clone());
                        if first.is_some() && first == st.first_id {
                            return None;
                        }
                        st.first_id = first;
                        // A cursor page without a next cursor is the last; a server that
                        // answers none pages by offset.
                        st.done = !page.has_more() || page.items.is_empty();
                        st.offset = page.next_offset();
                        if let Some(next) = &page.next_cursor
                            && !st.cursors_seen.insert(next.clone())
                        {
                            st.done = true;
                        }
                        st.cursor = page.next_cursor.clone();
                        st.buf = page.items.into_iter();
                    }
                }
            }
        }))
    }
}
impl_send!(ListIntents, Page<Intent>, "list_intents", "Fetches one page.");

/// Builder of [`Client::update_state`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct UpdateState<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    version: i64,
    patches: Vec<StatePatch>,
    error: Option<Error>,
}

impl<M: Mode> UpdateState<M> {
    /// Sets one top-level key, taken literally: `"a/b"` is a single key (sent as a `set`
    /// patch at `/a~1b`; see [`StatePatch::set_key`]). For a nested member use
    /// [`set_path`](Self::set_path).
    ///
    /// Example: [`Client::update_state`].
    pub fn set(mut self, key: impl AsRef<str>, value: impl Into<Value>) -> Self {
        self.patches.push(StatePatch::set_key(key, value));
        self
    }

    /// Sets the member at an RFC 6901 JSON pointer (`/trip/hotel/stars`), creating missing
    /// parent objects (see [`StatePatch::set_path`]). For one top-level key use
    /// [`set`](Self::set).
    ///
    /// Example: [`Client::update_state`].
    pub fn set_path(mut self, path: impl Into<String>, value: impl Into<Value>) -> Self {
        self.patches.push(StatePatch::set_path(path, value));
        self
    }

    /// Sets every top-level key of a JSON object (the seed's `update_state(id, v, dict)`).
    ///
    /// Example: [`Client::update_state`].
    pub fn merge(mut self, values: impl Into<Value>) -> Self {
        match object("state", values.into()) {
            Ok(map) => self.patches.extend(map.into_iter().map(|(k, v)| StatePatch::set_key(&k, v))),
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Appends a value to the array at a JSON pointer.
    ///
    /// Example: [`Client::update_state`].
    pub fn append(mut self, path: impl Into<String>, value: impl Into<Value>) -> Self {
        self.patches.push(StatePatch::append(path, value));
        self
    }

    /// Removes the member at a JSON pointer.
    ///
    /// Example: [`Client::update_state`].
    pub fn remove(mut self, path: impl Into<String>) -> Self {
        self.patches.push(StatePatch::remove(path));
        self
    }

    /// Adds any patch.
    ///
    /// Example: [`Client::update_state`].
    pub fn patch(mut self, patch: StatePatch) -> Self {
        self.patches.push(patch);
        self
    }

    /// Adds several patches.
    ///
    /// Example: [`Client::update_state`].
    pub fn patches(mut self, patches: impl IntoIterator<Item = StatePatch>) -> Self {
        self.patches.extend(patches);
        self
    }

    async fn run(self) -> Result<Intent> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let req = UpdateStateRequest::patches(self.patches);
        let request =
            Request::post(intent_path(&self.intent_id, "/state")?).header("If-Match", self.version.to_string());
        self.client.json(Client::with_body(request, &req)?).await
    }
}
impl_send!(UpdateState, Intent, "update_state");

/// Builder of [`Client::set_status`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct SetStatus<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    version: i64,
    req: SetStatusRequest,
}

impl<M: Mode> SetStatus<M> {
    /// Why (required by some governance policies).
    ///
    /// Example: [`Client::set_status`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.req.reason = Some(reason.into());
        self
    }

    async fn run(self) -> Result<Intent> {
        let request =
            Request::post(intent_path(&self.intent_id, "/status")?).header("If-Match", self.version.to_string());
        self.client.json(Client::with_body(request, &self.req)?).await
    }
}
impl_send!(SetStatus, Intent, "set_status");

/// Builder of [`Client::assign_agent`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct AssignAgent<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: AssignAgentRequest,
}

impl<M: Mode> AssignAgent<M> {
    /// The agent to assign (default: this client's agent id).
    ///
    /// Example: [`Client::assign_agent`].
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.req.agent_id = Some(agent_id.into());
        self
    }

    /// The role (servers default to `worker`).
    ///
    /// Example: [`Client::assign_agent`].
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.req.role = Some(role.into());
        self
    }

    async fn run(self) -> Result<AgentAssignment> {
        let mut req = self.req;
        if req.agent_id.is_none() {
            req.agent_id = Some(self.client.agent_id().to_owned());
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/agents")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(AssignAgent, AgentAssignment, "assign_agent");

/// Builder of [`Client::update_state_with`].
#[must_use = "a builder does nothing until .send() is awaited"]
pub struct UpdateStateWith<F, M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    compute: F,
    max_attempts: u32,
}

impl<F, M: Mode> std::fmt::Debug for UpdateStateWith<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateStateWith")
            .field("intent_id", &self.intent_id)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<F, M: Mode> UpdateStateWith<F, M>
where
    F: FnMut(&Intent) -> Vec<StatePatch> + Send,
{
    /// How many read-compute-write rounds to try before returning the conflict (at least 1).
    ///
    /// Example: [`Client::update_state_with`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    async fn run(mut self) -> Result<Intent> {
        let mut attempt = 1;
        loop {
            let intent = self.client.as_async().get_intent(&self.intent_id).await?;
            let patches = (self.compute)(&intent);
            if patches.is_empty() {
                return Ok(intent);
            }
            match self.client.as_async().update_state(&self.intent_id, intent.version).patches(patches).send().await {
                Err(e) if e.is_version_conflict() && attempt < self.max_attempts => {
                    tracing::debug!(attempt, intent_id = %self.intent_id, "version conflict; reading again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl<F> UpdateStateWith<F, Async>
where
    F: FnMut(&Intent) -> Vec<StatePatch> + Send,
{
    /// Runs the read-compute-write loop.
    ///
    /// Example: [`Client::update_state_with`].
    pub async fn send(self) -> Result<Intent> {
        self.run().await
    }
}

impl<F> std::future::IntoFuture for UpdateStateWith<F, Async>
where
    F: FnMut(&Intent) -> Vec<StatePatch> + Send + 'static,
{
    type Output = Result<Intent>;
    type IntoFuture = futures_util::future::BoxFuture<'static, Result<Intent>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

#[cfg(feature = "blocking")]
impl<F> UpdateStateWith<F, crate::mode::Blocking>
where
    F: FnMut(&Intent) -> Vec<StatePatch> + Send + 'static,
{
    /// Runs the read-compute-write loop on the blocking client's runtime.
    ///
    /// Example: [`blocking::Client::update_state_with`](crate::blocking::Client::update_state_with).
    pub fn send_blocking(self) -> Result<Intent> {
        let mode = self.client.mode.clone();
        mode.call(self.run())
    }
}

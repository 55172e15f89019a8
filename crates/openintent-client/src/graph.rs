//! Intent graphs (RFC-0002): parent/child trees and dependencies.
//!
//! | 0.17 SDK method | Rust | Wire |
//! |---|---|---|
//! | `create_child_intent(parent_id, title, …)` | [`Client::create_child_intent`] | `POST …/children` |
//! | `get_children(id)` | [`Client::get_children`] | `GET …/children` |
//! | `get_descendants(id)` | [`Client::get_descendants`] | `GET …/descendants` |
//! | `get_ancestors(id)` | [`Client::get_ancestors`] | `GET …/ancestors` (parent first) |
//! | `get_dependencies(id)` | [`Client::get_dependencies`] | `GET …/dependencies` |
//! | `get_dependents(id)` | [`Client::get_dependents`] | `GET …/dependents` |
//! | `add_dependency(id, dependency_id, version)` | [`Client::add_dependency`] | `POST …/dependencies` + `If-Match` |
//! | `remove_dependency(id, dependency_id, version)` | [`Client::remove_dependency`] | `DELETE …/dependencies/{dep}` + `If-Match` |
//! | `get_ready_intents(id)` | [`Client::get_ready_intents`] | `GET …/ready` |
//! | `get_blocked_intents(id)` | [`Client::get_blocked_intents`] | `GET …/blocked` |
//! | `get_intent_graph(id)` | [`Client::get_intent_graph`] | `GET …/graph` |
//!
//! Lists are read from their `{"<key>": […]}` envelope or a bare array; intents read their
//! parent from `parent_id` or `parent_intent_id`. An intent is ready when every intent it
//! depends on is completed ([`openintent_types::graph::is_ready`]); the Rust server writes an
//! `task.ready` event on an intent when its last open dependency completes.

use openintent_transport::Request;
use openintent_types::{AddDependencyRequest, CreateChildIntentRequest, GraphRelation, Intent, IntentGraph};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Creates a child of `parent_id` (`POST …/children`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let fetch = client.create_child_intent("7f1c…", "Fetch data").send().await?;
    /// let report = client
    ///     .create_child_intent("7f1c…", "Write report")
    ///     .description("after the data is in")
    ///     .depends_on([fetch.id.as_str()])
    ///     .send()
    ///     .await?;
    /// assert_eq!(report.parent_id.as_deref(), Some("7f1c…"));
    /// # Ok(()) }
    /// ```
    pub fn create_child_intent(&self, parent_id: &str, title: impl Into<String>) -> CreateChildIntent<M> {
        CreateChildIntent {
            client: self.clone(),
            parent_id: parent_id.to_owned(),
            req: CreateChildIntentRequest::new(title),
            constraints: None,
            state: None,
        }
    }

    /// The direct children of an intent, in creation order (`GET …/children`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for child in client.get_children("7f1c…").await? {
    ///     println!("{} {}", child.id, child.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_children(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Children)
    }

    /// Every descendant, depth-first (`GET …/descendants`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let all = client.get_descendants("7f1c…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_descendants(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Descendants)
    }

    /// The parent first, up to the root (`GET …/ancestors`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let root = client.get_ancestors("7f1c…").await?.pop();
    /// # Ok(()) }
    /// ```
    pub fn get_ancestors(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Ancestors)
    }

    /// The intents this one depends on (`GET …/dependencies`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let upstream = client.get_dependencies("7f1c…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_dependencies(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Dependencies)
    }

    /// The intents that depend on this one (`GET …/dependents`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let downstream = client.get_dependents("7f1c…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_dependents(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Dependents)
    }

    /// The children whose dependencies are all completed (`GET …/ready`). The Rust server
    /// leaves completed and abandoned children out; the reference lists them.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for task in client.get_ready_intents("7f1c…").await? {
    ///     println!("can start: {}", task.title);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_ready_intents(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Ready)
    }

    /// The children with a dependency that is missing or not completed (`GET …/blocked`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let waiting = client.get_blocked_intents("7f1c…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_blocked_intents(&self, intent_id: &str) -> M::Call<Vec<Intent>> {
        self.relation(intent_id, GraphRelation::Blocked)
    }

    /// The graph around an intent: nodes, parent and dependency edges, and status counts
    /// (`GET …/graph`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let graph = client.get_intent_graph("7f1c…").await?;
    /// println!("{} nodes, {}% done", graph.nodes.len(), graph.aggregate_status.completion_percentage);
    /// # Ok(()) }
    /// ```
    pub fn get_intent_graph(&self, intent_id: &str) -> M::Call<IntentGraph> {
        let path = intent_path(intent_id, "/graph");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Makes `intent_id` depend on `dependency_id` (`POST …/dependencies` with
    /// `If-Match: <version>`); returns the intent one version up. A cycle is refused (400).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let report = client.get_intent("7f1c…").await?;
    /// let report = client.add_dependency(&report.id, "a2b3…", report.version).await?;
    /// # Ok(()) }
    /// ```
    pub fn add_dependency(&self, intent_id: &str, dependency_id: &str, version: i64) -> M::Call<Intent> {
        let body = AddDependencyRequest::new(dependency_id);
        let request = intent_path(intent_id, "/dependencies")
            .and_then(|p| Client::with_body(Request::post(p).header("If-Match", version.to_string()), &body));
        self.call(|c| async move { c.json(request?).await })
    }

    /// Removes a dependency (`DELETE …/dependencies/{dependency_id}` with
    /// `If-Match: <version>`); returns the intent one version up.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client.remove_dependency("7f1c…", "a2b3…", 2).await?;
    /// # Ok(()) }
    /// ```
    pub fn remove_dependency(&self, intent_id: &str, dependency_id: &str, version: i64) -> M::Call<Intent> {
        let path =
            seg("dependency_id", dependency_id).and_then(|d| intent_path(intent_id, &format!("/dependencies/{d}")));
        self.call(|c| async move { c.json(Request::delete(path?).header("If-Match", version.to_string())).await })
    }

    fn relation(&self, intent_id: &str, relation: GraphRelation) -> M::Call<Vec<Intent>> {
        let path = intent_path(intent_id, &format!("/{}", relation.key()));
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }
}

/// Builder of [`Client::create_child_intent`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct CreateChildIntent<M: Mode = Async> {
    client: GenericClient<M>,
    parent_id: String,
    req: CreateChildIntentRequest,
    constraints: Option<Value>,
    state: Option<Value>,
}

impl<M: Mode> CreateChildIntent<M> {
    /// Description.
    ///
    /// Example: [`Client::create_child_intent`].
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.req.description = Some(description.into());
        self
    }

    /// Constraints (a JSON object).
    ///
    /// Example: [`Client::create_child_intent`].
    pub fn constraints(mut self, constraints: impl Into<Value>) -> Self {
        self.constraints = Some(constraints.into());
        self
    }

    /// Initial state (a JSON object; the 0.17 SDK's `initial_state`).
    ///
    /// Example: [`Client::create_child_intent`].
    pub fn initial_state(mut self, state: impl Into<Value>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Intents the child depends on (checked by the Rust server: unknown ids are a 400).
    ///
    /// Example: [`Client::create_child_intent`].
    pub fn depends_on<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.req.depends_on = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    async fn run(self) -> Result<Intent> {
        let mut req = self.req;
        if let Some(c) = self.constraints {
            req.constraints = Some(object("constraints", c)?);
        }
        if let Some(s) = self.state {
            req.state = Some(object("initial_state", s)?);
        }
        req.parent_intent_id = Some(self.parent_id.clone());
        let request = Client::with_body(Request::post(intent_path(&self.parent_id, "/children")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(CreateChildIntent, Intent, "create_child_intent");

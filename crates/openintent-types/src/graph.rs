//! Intent graphs (RFC-0002): parent/child trees, dependencies, and the pure rules both ends share
//! (readiness, cycle detection, the graph walk).
//!
//! Routes: `POST /api/v1/intents/{id}/children` ([`CreateChildIntentRequest`]),
//! `POST /api/v1/intents/{id}/dependencies` ([`AddDependencyRequest`], `If-Match`),
//! `DELETE …/dependencies/{dependency_id}` (`If-Match`), the list queries of [`GraphRelation`]
//! (`{"<key>": [Intent…]}`; read with [`crate::wire::ListBody`]) and `GET …/graph`
//! ([`IntentGraph`]). The parent id of an [`Intent`] reads from `parent_id` or
//! `parent_intent_id`, the key the reference uses inside these envelopes.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::intents::{CreateIntentRequest, Intent, IntentStatus};
use crate::portfolios::AggregateStatus;
use crate::validation::{InputValidationError, Validate, fail, validate_id, validate_intent_create};
use crate::wire::{null_as_default, opt_object_or_rules, to_superset_value};

wire_model! {
    /// Body of `POST /api/v1/intents/{parent_id}/children`: a child of the path intent.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateChildIntentRequest {
        /// Title (required, 1-500 characters).
        pub title: String,
        /// Description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// Constraints object.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_object_or_rules")]
        pub constraints: Option<Map<String, Value>>,
        /// Initial state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<Map<String, Value>>,
        /// Intents the child depends on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub depends_on: Option<Vec<String>>,
        /// The parent again (the 0.17 client sends it; the path wins).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent_intent_id: Option<String>,
    }
    aliases {
        "parent_intent_id" <= ["parent_id", "parentIntentId"],
        "depends_on" <= ["dependsOn"],
        "state" <= ["initial_state"],
    }
    also_emit {}
}

impl CreateChildIntentRequest {
    /// A child with only a title.
    pub fn new(title: impl Into<String>) -> Self {
        CreateChildIntentRequest { title: title.into(), ..Default::default() }
    }

    /// The equivalent `POST /api/v1/intents` body for a child of `parent_id`.
    pub fn into_create_request(self, parent_id: impl Into<String>) -> CreateIntentRequest {
        let mut req = CreateIntentRequest::new(self.title);
        req.description = self.description;
        req.constraints = self.constraints;
        req.state = self.state;
        req.depends_on = self.depends_on;
        req.parent_intent_id = Some(parent_id.into());
        req
    }
}

/// Each id valid, none repeated.
fn check_dependency_list(field: &str, ids: &[String]) -> Result<(), InputValidationError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        validate_id(&format!("{field}.{i}"), id)?;
        if !seen.insert(id.as_str()) {
            return fail(&format!("{field}.{i}"), format_args!("repeats the dependency {id:?}"));
        }
    }
    Ok(())
}

impl Validate for CreateChildIntentRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_intent_create(&self.title, None, self.description.as_deref())?;
        if let Some(p) = &self.parent_intent_id {
            validate_id("parent_intent_id", p)?;
        }
        check_dependency_list("depends_on", self.depends_on.as_deref().unwrap_or_default())
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/dependencies` (sent with `If-Match: <version>`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AddDependencyRequest {
        /// The intent the path intent will depend on.
        pub dependency_id: String,
    }
    aliases { "dependency_id" <= ["dependencyId", "depends_on_id"] }
    also_emit {}
}

impl AddDependencyRequest {
    /// A request to depend on `dependency_id`.
    pub fn new(dependency_id: impl Into<String>) -> Self {
        AddDependencyRequest { dependency_id: dependency_id.into() }
    }
}

impl Validate for AddDependencyRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_id("dependency_id", &self.dependency_id)
    }
}

/// The list queries of an intent's graph: `GET /api/v1/intents/{id}/<segment>` answers
/// `{"<segment>": [Intent…]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GraphRelation {
    /// Direct children, in creation order.
    Children,
    /// Every descendant, depth-first pre-order.
    Descendants,
    /// The parent first, up to the root.
    Ancestors,
    /// The intents of `depends_on` that exist.
    Dependencies,
    /// Every intent whose `depends_on` holds this one.
    Dependents,
    /// Children whose dependencies all exist and are completed ([`is_ready`]).
    Ready,
    /// The other children: some dependency missing or not completed.
    Blocked,
}

impl GraphRelation {
    /// Every relation.
    pub const ALL: [GraphRelation; 7] = [
        GraphRelation::Children,
        GraphRelation::Descendants,
        GraphRelation::Ancestors,
        GraphRelation::Dependencies,
        GraphRelation::Dependents,
        GraphRelation::Ready,
        GraphRelation::Blocked,
    ];

    /// The path segment, which is also the envelope key.
    pub fn key(self) -> &'static str {
        match self {
            GraphRelation::Children => "children",
            GraphRelation::Descendants => "descendants",
            GraphRelation::Ancestors => "ancestors",
            GraphRelation::Dependencies => "dependencies",
            GraphRelation::Dependents => "dependents",
            GraphRelation::Ready => "ready",
            GraphRelation::Blocked => "blocked",
        }
    }

    /// The relation of a path segment.
    pub fn from_key(key: &str) -> Option<GraphRelation> {
        GraphRelation::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The route of this relation for `intent_id`.
    pub fn path(self, intent_id: &str) -> String {
        format!("/api/v1/intents/{intent_id}/{}", self.key())
    }

    /// The answer body: `{"<key>": [...]}`, each intent in its superset form (both `parent_id`
    /// and `parent_intent_id`).
    ///
    /// ```
    /// use openintent_types::{GraphRelation, Intent};
    /// let body = GraphRelation::Ready.envelope(&[Intent::new("a", "A")]);
    /// assert_eq!(body["ready"][0]["id"], "a");
    /// ```
    pub fn envelope(self, intents: &[Intent]) -> Value {
        let items: Vec<Value> = intents.iter().map(to_superset_value).collect();
        let mut map = Map::new();
        map.insert(self.key().to_owned(), Value::Array(items));
        Value::Object(map)
    }
}

/// The dependencies of `depends_on` that are not met: unknown (the lookup answers `None`) or not
/// `completed`, in their listed order.
pub fn unmet_dependencies(depends_on: &[String], status_of: impl Fn(&str) -> Option<IntentStatus>) -> Vec<&str> {
    depends_on.iter().map(String::as_str).filter(|id| status_of(id) != Some(IntentStatus::Completed)).collect()
}

/// RFC-0002 readiness: an intent is ready when every intent it depends on exists and is
/// `completed` (an intent without dependencies is ready).
///
/// ```
/// use openintent_types::{graph::is_ready, IntentStatus};
/// let deps = vec!["a".to_owned(), "b".to_owned()];
/// let done = |id: &str| Some(if id == "a" { IntentStatus::Completed } else { IntentStatus::Active });
/// assert!(!is_ready(&deps, done));
/// assert!(is_ready(&deps, |_| Some(IntentStatus::Completed)));
/// ```
pub fn is_ready(depends_on: &[String], status_of: impl Fn(&str) -> Option<IntentStatus>) -> bool {
    unmet_dependencies(depends_on, status_of).is_empty()
}

/// Splits `candidates` into the ready ones and the blocked ones ([`is_ready`]), looking
/// dependencies up among `all` (which may include the candidates). Order is kept.
pub fn split_ready<'a>(candidates: &'a [Intent], all: &[Intent]) -> (Vec<&'a Intent>, Vec<&'a Intent>) {
    let status: HashMap<&str, &IntentStatus> = all.iter().map(|i| (i.id.as_str(), &i.status)).collect();
    candidates.iter().partition(|c| is_ready(&c.depends_on, |id| status.get(id).map(|s| (*s).clone())))
}

/// The dependency edges `(intent, dependency)` of `intents`, one per entry of `depends_on`.
pub fn dependency_edges(intents: &[Intent]) -> Vec<(String, String)> {
    intents.iter().flat_map(|i| i.depends_on.iter().map(move |d| (i.id.clone(), d.clone()))).collect()
}

fn adjacency(edges: &[(String, String)]) -> HashMap<&str, Vec<&str>> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for (from, to) in edges {
        next.entry(from.as_str()).or_default().push(to.as_str());
    }
    next
}

/// A cycle among dependency edges `(intent, dependency)`, as the path `[a, b, …, a]`, or `None`.
/// A self-dependency is the cycle `[a, a]`.
///
/// ```
/// use openintent_types::graph::find_cycle;
/// let e = |a: &str, b: &str| (a.to_owned(), b.to_owned());
/// assert_eq!(find_cycle(&[e("a", "b"), e("b", "c")]), None);
/// assert_eq!(find_cycle(&[e("a", "b"), e("b", "a")]).unwrap(), ["a", "b", "a"]);
/// ```
pub fn find_cycle(edges: &[(String, String)]) -> Option<Vec<String>> {
    let next = adjacency(edges);
    // 1 = on the current path, 2 = finished.
    let mut mark: HashMap<&str, u8> = HashMap::new();
    for (start, _) in edges {
        if mark.contains_key(start.as_str()) {
            continue;
        }
        // Iterative depth-first search: (node, index of the next successor to visit).
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        mark.insert(start.as_str(), 1);
        while let Some((node, idx)) = stack.last_mut() {
            let succ = next.get(*node).and_then(|s| s.get(*idx)).copied();
            *idx += 1;
            match succ {
                None => {
                    mark.insert(*node, 2);
                    stack.pop();
                }
                Some(s) => match mark.get(s) {
                    Some(1) => {
                        let from = stack.iter().position(|(n, _)| *n == s).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(s.to_owned());
                        return Some(cycle);
                    }
                    Some(_) => {}
                    None => {
                        mark.insert(s, 1);
                        stack.push((s, 0));
                    }
                },
            }
        }
    }
    None
}

/// The cycle that adding "`intent_id` depends on `dependency_id`" to `edges` would close, as the
/// path `[intent_id, dependency_id, …, intent_id]`, or `None` when the edge is safe.
///
/// ```
/// use openintent_types::graph::cycle_if_added;
/// let e = |a: &str, b: &str| (a.to_owned(), b.to_owned());
/// let edges = [e("deploy", "build"), e("build", "fetch")];
/// assert_eq!(cycle_if_added(&edges, "fetch", "deploy").unwrap(), ["fetch", "deploy", "build", "fetch"]);
/// assert_eq!(cycle_if_added(&edges, "x", "x").unwrap(), ["x", "x"]);
/// assert!(cycle_if_added(&edges, "deploy", "fetch").is_none());
/// ```
pub fn cycle_if_added(edges: &[(String, String)], intent_id: &str, dependency_id: &str) -> Option<Vec<String>> {
    if intent_id == dependency_id {
        return Some(vec![intent_id.to_owned(), dependency_id.to_owned()]);
    }
    // Breadth-first from the dependency, looking for a way back to the intent.
    let next = adjacency(edges);
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([dependency_id]);
    let mut seen: HashSet<&str> = HashSet::from([dependency_id]);
    while let Some(node) = queue.pop_front() {
        for &s in next.get(node).into_iter().flatten() {
            if !seen.insert(s) {
                continue;
            }
            parent.insert(s, node);
            if s == intent_id {
                // Back from the intent to the dependency, then reversed: [dependency, …, intent].
                let mut back = vec![s];
                while let Some(&p) = parent.get(*back.last().unwrap_or(&s)) {
                    back.push(p);
                }
                let walk = std::iter::once(intent_id).chain(back.into_iter().rev());
                return Some(walk.map(str::to_owned).collect());
            }
            queue.push_back(s);
        }
    }
    None
}

wire_enum! {
    /// The kind of an edge of an [`IntentGraph`].
    pub enum EdgeKind {
        /// Parent → child.
        Parent = "parent",
        /// Dependency → dependent.
        Dependency = "dependency",
    }
}

wire_model! {
    /// One intent of an [`IntentGraph`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct GraphNode {
        /// Intent id.
        pub id: String,
        /// Title.
        #[serde(default, deserialize_with = "null_as_default")]
        pub title: String,
        /// Status.
        #[serde(default)]
        pub status: IntentStatus,
        /// Parent intent (read from `parent_id` or `parent_intent_id`).
        #[serde(default)]
        pub parent_id: Option<String>,
        /// Dependencies.
        #[serde(default, deserialize_with = "null_as_default")]
        pub depends_on: Vec<String>,
    }
    aliases { "parent_id" <= ["parent_intent_id", "parentIntentId", "parentId"], "depends_on" <= ["dependsOn"] }
    also_emit {}
}

impl GraphNode {
    /// The node of an intent.
    pub fn of(intent: &Intent) -> Self {
        GraphNode {
            id: intent.id.clone(),
            title: intent.title.clone(),
            status: intent.status.clone(),
            parent_id: intent.parent_id.clone(),
            depends_on: intent.depends_on.clone(),
        }
    }
}

wire_model! {
    /// One edge of an [`IntentGraph`]: `{"from", "to", "type"}`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct GraphEdge {
        /// Parent, or dependency.
        pub from: String,
        /// Child, or dependent.
        pub to: String,
        /// The kind (`type` on the wire).
        #[serde(rename = "type")]
        pub kind: EdgeKind,
    }
    aliases {}
    also_emit {}
}

impl GraphEdge {
    /// An edge.
    pub fn new(from: impl Into<String>, to: impl Into<String>, kind: EdgeKind) -> Self {
        GraphEdge { from: from.into(), to: to.into(), kind }
    }
}

wire_model! {
    /// Answer of `GET /api/v1/intents/{id}/graph`. See [`IntentGraph::from_intents`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct IntentGraph {
        /// The intent the walk started from.
        pub root_id: String,
        /// The root, then every intent reached.
        #[serde(default, deserialize_with = "null_as_default")]
        pub nodes: Vec<GraphNode>,
        /// Parent and dependency edges (dependency edges may name ids that have no node).
        #[serde(default, deserialize_with = "null_as_default")]
        pub edges: Vec<GraphEdge>,
        /// Counts over every node, the root included.
        #[serde(default)]
        pub aggregate_status: AggregateStatus,
        /// RFC-0002: nodes with unmet dependencies (the reference does not send it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub blocking_intents: Option<Vec<String>>,
        /// RFC-0002: nodes whose dependencies are all completed (the reference does not send it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ready_intents: Option<Vec<String>>,
    }
    aliases { "root_id" <= ["rootId"], "aggregate_status" <= ["aggregateStatus"] }
    also_emit {}
}

impl IntentGraph {
    /// The graph of `root_id` among `intents`, walked as the reference does: the root, then for
    /// each node its dependencies (recursively) and its children (recursively), depth-first, each
    /// intent once. Edges: `parent → child` for nodes whose parent is a node, and
    /// `dependency → dependent` for every entry of `depends_on`. `blocking_intents` and
    /// `ready_intents` classify the nodes ([`is_ready`]). `None` when the root is unknown.
    pub fn from_intents(root_id: &str, intents: &[Intent]) -> Option<IntentGraph> {
        let by_id: HashMap<&str, &Intent> = intents.iter().map(|i| (i.id.as_str(), i)).collect();
        by_id.get(root_id)?;
        let mut children: HashMap<&str, Vec<&Intent>> = HashMap::new();
        for i in intents {
            if let Some(p) = &i.parent_id {
                children.entry(p.as_str()).or_default().push(i);
            }
        }
        let mut order: Vec<&Intent> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = vec![root_id];
        while let Some(id) = stack.pop() {
            let Some(intent) = by_id.get(id) else { continue };
            if !seen.insert(id) {
                continue;
            }
            order.push(intent);
            let deps = intent.depends_on.iter().map(String::as_str);
            let kids = children.get(id).into_iter().flatten().map(|c| c.id.as_str());
            let next: Vec<&str> = deps.chain(kids).collect();
            stack.extend(next.into_iter().rev());
        }
        let ids: HashSet<&str> = order.iter().map(|i| i.id.as_str()).collect();
        let mut edges = Vec::new();
        for i in &order {
            if let Some(p) = i.parent_id.as_deref().filter(|p| ids.contains(p)) {
                edges.push(GraphEdge::new(p, i.id.as_str(), EdgeKind::Parent));
            }
            edges.extend(i.depends_on.iter().map(|d| GraphEdge::new(d.as_str(), i.id.as_str(), EdgeKind::Dependency)));
        }
        let status = |id: &str| by_id.get(id).map(|i| i.status.clone());
        let (ready, blocking): (Vec<&Intent>, Vec<&Intent>) =
            order.iter().partition(|i| is_ready(&i.depends_on, status));
        let graph = IntentGraph {
            root_id: root_id.to_owned(),
            aggregate_status: AggregateStatus::from_intents(order.iter().copied()),
            nodes: order.iter().map(|i| GraphNode::of(i)).collect(),
            edges,
            blocking_intents: Some(blocking.iter().map(|i| i.id.clone()).collect()),
            ready_intents: Some(ready.iter().map(|i| i.id.clone()).collect()),
        };
        Some(graph)
    }

    /// The aggregate of the nodes' statuses.
    pub fn aggregate(&self) -> AggregateStatus {
        let intents: Vec<Intent> = self
            .nodes
            .iter()
            .map(|n| {
                let mut i = Intent::new(n.id.clone(), n.title.clone());
                i.status = n.status.clone();
                i
            })
            .collect();
        AggregateStatus::from_intents(&intents)
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl crate::schema::RequestSchema for CreateChildIntentRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("title", Kind::Str).text(500),
            opt("description", Kind::Str),
            opt("constraints", Kind::ObjOrList),
            opt("state", Kind::Obj),
            opt("depends_on", Kind::StrList),
            opt("parent_intent_id", Kind::Str).id(),
        ]
    };
}

impl crate::schema::RequestSchema for AddDependencyRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, req};
        &[req("dependency_id", Kind::Str).id()]
    };
}

//! The vocabulary of the tool table: a tool's declaration ([`ToolDef`]), its arguments
//! ([`Param`]), the context a call gets and the `call!` macro that turns a closure into one.

use futures_util::future::BoxFuture;
use openintent_client::Client;
use openintent_types::schema::{Field, Kind};
use rmcp::Peer;
use rmcp::service::RoleServer;
use serde::Serialize;
use serde_json::{Value, json};

use crate::args::Args;
use crate::errors::ToolError;
use crate::tier::Tier;

/// What a tool works with: the client, and the host (for elicitation) when it is there.
pub(crate) struct Ctx {
    /// The OpenIntent client.
    pub client: Client,
    /// The MCP host of the session.
    pub peer: Option<Peer<RoleServer>>,
}

/// What a tool does with its context and its arguments.
pub(crate) type CallFn = fn(Ctx, Args) -> BoxFuture<'static, Result<Value, ToolError>>;

/// A path or query argument of a tool (one that is not a field of the request body).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    /// The argument's name.
    pub name: &'static str,
    /// The kind of JSON value (`None`: any).
    pub kind: Option<Kind>,
    /// Whether the call needs it.
    pub required: bool,
    /// What it is, for the model.
    pub description: &'static str,
}

impl Param {
    /// A required argument.
    pub(crate) const fn req(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param { name, kind: Some(kind), required: true, description }
    }
    /// A required argument of any JSON type.
    pub(crate) const fn any(name: &'static str, description: &'static str) -> Param {
        Param { name, kind: None, required: true, description }
    }
    /// An optional argument.
    pub(crate) const fn opt(name: &'static str, kind: Kind, description: &'static str) -> Param {
        Param { name, kind: Some(kind), required: false, description }
    }
}

/// One tool.
pub(crate) struct ToolDef {
    /// The tool's name (the client operation's name).
    pub name: &'static str,
    /// The least tier that offers it.
    pub tier: Tier,
    /// What it does, written for a model.
    pub description: &'static str,
    /// Its path and query arguments.
    pub params: &'static [Param],
    /// The request body's fields (from the types crate), offered as further arguments.
    pub fields: &'static [Field],
    /// Body fields the tool does not offer (the client sets them, or cannot).
    pub omit: &'static [&'static str],
    /// Required body fields the tool may be called without: the client fills them in with the
    /// agent this server acts as (the sender of a message).
    pub defaulted: &'static [&'static str],
    /// The call.
    pub call: CallFn,
}

impl ToolDef {
    /// The body fields offered as arguments.
    pub(crate) fn body_fields(&self) -> impl Iterator<Item = &'static Field> + '_ {
        let omit = self.omit;
        self.fields.iter().filter(move |f| !omit.contains(&f.name()))
    }

    /// Whether the tool needs the body field `field` as an argument.
    pub(crate) fn requires(&self, field: &Field) -> bool {
        field.required() && !self.defaulted.contains(&field.name())
    }

    /// Whether the tool only reads.
    pub(crate) fn read_only(&self) -> bool {
        self.tier == Tier::Reader
    }
}

/// Common arguments.
pub(crate) const INTENT_ID: Param = Param::req("intent_id", Kind::Str, "The intent's id");
/// The intent's version, for writes that check it.
pub(crate) const VERSION: Param = Param::req(
    "version",
    Kind::Int,
    "The intent's current version (from get_intent); a stale one is refused with version_conflict",
);

/// Declares a tool's call as a closure `|client, args| async { ... }` (or
/// `|client, args, peer| ...` for a tool that talks to the host) whose value is serialized to
/// JSON.
macro_rules! call {
    (|$c:ident, $a:ident| $body:expr) => {
        crate::tools::def::call!(|$c, $a, _peer| $body)
    };
    (|$c:ident, $a:ident, $p:ident| $body:expr) => {{
        fn call(
            ctx: crate::tools::def::Ctx,
            $a: crate::args::Args,
        ) -> ::futures_util::future::BoxFuture<'static, Result<::serde_json::Value, crate::errors::ToolError>> {
            #[allow(unused_variables)]
            let crate::tools::def::Ctx { client: $c, peer: $p } = ctx;
            Box::pin(async move { crate::tools::def::output($body) })
        }
        call as crate::tools::def::CallFn
    }};
}
pub(crate) use call;

/// A call's value as structured content: objects as they are, lists as
/// `{"items": [...], "count": n}`, nothing as `{"ok": true}`.
pub(crate) fn output<T: Serialize>(value: Result<T, ToolError>) -> Result<Value, ToolError> {
    Ok(match serde_json::to_value(value?)? {
        v @ Value::Object(_) => v,
        Value::Array(items) => json!({"count": items.len(), "items": items}),
        Value::Null => json!({"ok": true}),
        other => json!({"result": other}),
    })
}

//! The tool table: one declaration per tool (name, tier, description, arguments, call), from
//! which `tools/list` and `tools/call` are answered.

mod coordination;
mod def;
mod governance;
mod intents;
mod platform;

pub(crate) use def::{Ctx, Param, ToolDef};

/// Every tool, in a stable order.
pub(crate) fn all() -> impl Iterator<Item = &'static ToolDef> {
    intents::TOOLS.iter().chain(coordination::TOOLS).chain(governance::TOOLS).chain(platform::TOOLS)
}

/// The tool named `name`.
pub(crate) fn find(name: &str) -> Option<&'static ToolDef> {
    all().find(|t| t.name == name)
}

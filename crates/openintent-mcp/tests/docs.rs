//! docs/mcp.md lists every tool with its tier, and no tool that does not exist.

use openintent_mcp::OpenIntentMcp;

const GUIDE: &str = include_str!("../../../docs/mcp.md");

#[test]
fn the_guide_lists_every_tool_with_its_tier() {
    let tools = OpenIntentMcp::all_tools();
    // Rows `| `name` | tier | what it does |`.
    let documented: Vec<(&str, &str)> = GUIDE
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("| `")?.split_once("` | ")?;
            let (tier, _) = rest.split_once(" | ")?;
            ["reader", "operator", "admin"].contains(&tier).then_some((name, tier))
        })
        .collect();
    for (name, tier) in &tools {
        assert!(documented.contains(&(*name, tier.as_str())), "docs/mcp.md lacks the row of {name} (tier {tier})");
    }
    for (name, _) in &documented {
        assert!(tools.iter().any(|(n, _)| n == name), "docs/mcp.md documents a tool {name} that does not exist");
    }
    assert_eq!(documented.len(), tools.len());
}

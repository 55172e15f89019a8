//! Tiers: which tools a host is given.

use std::fmt;
use std::str::FromStr;

/// Which tools a host is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Tier {
    /// Only the tools that read.
    Reader,
    /// Also the tools that do the work: create and change intents, lease, log, message.
    #[default]
    Operator,
    /// Also the tools that govern: governance policies, approval and access decisions, ACLs,
    /// resolving escalations, deregistering agents.
    Admin,
}

impl Tier {
    /// The tier's name: `reader`, `operator` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Reader => "reader",
            Tier::Operator => "operator",
            Tier::Admin => "admin",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is not `reader`, `operator` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTier(pub String);

impl fmt::Display for UnknownTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier must be reader, operator or admin, got {:?}", self.0)
    }
}

impl std::error::Error for UnknownTier {}

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Tier, UnknownTier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Tier::Reader),
            "operator" => Ok(Tier::Operator),
            "admin" => Ok(Tier::Admin),
            _ => Err(UnknownTier(s.to_owned())),
        }
    }
}

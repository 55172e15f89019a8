//! API keys: the [`Role`] a key carries, a key bound to an agent or not ([`ApiKey`]), and the
//! principal an unbound key acts as ([`key_principal`]). See `docs/security.md`.

use std::fmt;

/// What the holder of an API key may do (the tiers of the upstream's MCP server), from least
/// to most.
///
/// ```
/// use openintent_server::Role;
/// assert_eq!(Role::parse("operator"), Some(Role::Operator));
/// assert!(!Role::Reader.may_write());
/// assert!(Role::Agent.may_write() && !Role::Agent.may_act_for_others());
/// assert!(Role::Operator.may_act_for_others() && !Role::Operator.manages_others_resources());
/// assert!(Role::Admin.manages_others_resources());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum Role {
    /// Reads only: every method other than `GET`, `HEAD` and `OPTIONS` is refused with 403.
    Reader,
    /// Reads and writes as itself: identity fields in request bodies (`created_by`, `actor`,
    /// `requested_by`, ...) must name the caller. The default.
    #[default]
    Agent,
    /// An agent that may also act for others: identity fields in bodies may name anyone.
    Operator,
    /// An operator that also manages resources other principals own.
    Admin,
}

impl Role {
    /// Every role, from least to most.
    pub const ALL: [Role; 4] = [Role::Reader, Role::Agent, Role::Operator, Role::Admin];

    /// The role named `name` (`reader`, `agent`, `operator`, `admin`).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Agent => "agent",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether the role may send requests that change anything.
    pub fn may_write(self) -> bool {
        self >= Role::Agent
    }

    /// Whether identity fields in request bodies may name a principal other than the caller.
    pub fn may_act_for_others(self) -> bool {
        self >= Role::Operator
    }

    /// Whether the role manages resources that other principals own.
    pub fn manages_others_resources(self) -> bool {
        self >= Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The principal of an API key that is not bound to an agent: `key-` and the first 16 hex
/// digits of the SHA-256 of the key (behind a fixed prefix). Stable across restarts, distinct
/// per key, and not the key itself, so that storing it (as `created_by`, `actor`, ...) and
/// showing it in responses, streams and webhooks discloses nothing a caller could
/// authenticate with.
///
/// ```
/// let p = openintent_server::key_principal("s3cret");
/// assert!(p.starts_with("key-") && p.len() == 20 && !p.contains("s3cret"));
/// assert_eq!(p, openintent_server::key_principal("s3cret"));
/// assert_ne!(p, openintent_server::key_principal("s3cret2"));
/// ```
pub fn key_principal(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(b"openintent-key-principal\0").chain_update(key.as_bytes()).finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("key-{hex}")
}

/// One accepted API key, optionally bound to a single agent id, with a [`Role`].
///
/// A bound key may only act as its agent: a request claiming another `X-Agent-ID` is refused
/// with 403, and no other key may claim that agent id. An unbound key acts as the agent its
/// request's `X-Agent-ID` names, else as its own [`key_principal`]. The key is redacted in
/// `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    agent: Option<String>,
    role: Role,
    principal: String,
}

impl ApiKey {
    /// A key any agent may use, with the [`Role::Agent`] role.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let principal = key_principal(&key);
        ApiKey { key, agent: None, role: Role::default(), principal }
    }

    /// A key bound to `agent`, with the [`Role::Agent`] role.
    pub fn bound(key: impl Into<String>, agent: impl Into<String>) -> Self {
        ApiKey { agent: Some(agent.into()), ..ApiKey::new(key) }
    }

    /// The key with `role` instead.
    #[must_use]
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Parses one entry: `key`, `key=agent`, `key=agent:role` or `key=:role` (an unbound key
    /// with a role), where `role` is `reader`, `agent`, `operator` or `admin`. Without a role
    /// the key has [`Role::Agent`]. After `=`, a last `:` part that is not a role name belongs
    /// to the agent id (so `key=urn:x` binds the key to `urn:x`).
    ///
    /// ```
    /// use openintent_server::{ApiKey, Role};
    /// let k = ApiKey::parse("k1=ops-bot:operator").unwrap();
    /// assert_eq!((k.agent(), k.role()), (Some("ops-bot"), Role::Operator));
    /// let k = ApiKey::parse("k2=:reader").unwrap();
    /// assert_eq!((k.agent(), k.role()), (None, Role::Reader));
    /// assert_eq!(ApiKey::parse("k3").unwrap().role(), Role::Agent);
    /// ```
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        let Some((k, rest)) = entry.split_once('=') else { return Some(ApiKey::new(entry)) };
        let (k, rest) = (k.trim(), rest.trim());
        let (agent, role) = match rest.rsplit_once(':') {
            Some((a, r)) if Role::parse(r.trim()).is_some() => (a.trim(), Role::parse(r.trim())),
            _ => (rest, None),
        };
        if k.is_empty() || (agent.is_empty() && role.is_none()) {
            return None;
        }
        let key = if agent.is_empty() { ApiKey::new(k) } else { ApiKey::bound(k, agent) };
        Some(key.with_role(role.unwrap_or_default()))
    }

    /// Parses a comma-separated list of entries in the forms of [`ApiKey::parse`] (empty
    /// entries skipped).
    pub fn parse_list(list: &str) -> Vec<ApiKey> {
        list.split(',').filter_map(ApiKey::parse).collect()
    }

    /// The secret.
    pub fn secret(&self) -> &str {
        &self.key
    }

    /// The agent the key is bound to, if any.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The key's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The principal a request with this key acts as when it names no agent: the bound agent,
    /// else the [`key_principal`] of the key.
    pub fn principal(&self) -> &str {
        self.agent.as_deref().unwrap_or(&self.principal)
    }

    /// Whether a caller with another key would be claiming this key's identity by acting as
    /// `agent_id`: its bound agent, or its key principal.
    pub fn reserves(&self, agent_id: &str) -> bool {
        self.agent.as_deref() == Some(agent_id) || self.principal == agent_id
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &"<redacted>")
            .field("agent", &self.agent)
            .field("role", &self.role)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerConfig;

    #[test]
    fn keys_parse_roles() {
        let keys = ApiKey::parse_list("r=:reader, o=ops:operator, a=root:admin, u=urn:x, w=bob:agent, =:admin");
        let shape: Vec<_> = keys.iter().map(|k| (k.secret(), k.agent(), k.role())).collect();
        assert_eq!(
            shape,
            vec![
                ("r", None, Role::Reader),
                ("o", Some("ops"), Role::Operator),
                ("a", Some("root"), Role::Admin),
                ("u", Some("urn:x"), Role::Agent),
                ("w", Some("bob"), Role::Agent),
            ]
        );
        assert!(format!("{:?}", keys[1]).contains("Operator"));
        let dev = ServerConfig::builder().build().unwrap();
        let roles: Vec<_> = dev.api_keys().iter().map(|k| (k.secret(), k.role())).collect();
        assert_eq!(
            roles,
            vec![("dev-user-key", Role::Admin), ("agent-research-key", Role::Agent), ("agent-synth-key", Role::Agent)]
        );
    }

    #[test]
    fn key_principals_hide_the_key() {
        let k = ApiKey::new("top-secret-key");
        assert!(k.principal().starts_with("key-") && !k.principal().contains("top-secret"));
        assert_eq!(k.principal(), key_principal("top-secret-key"));
        assert!(k.reserves(k.principal()) && !k.reserves("bob"));
        let b = ApiKey::bound("x", "bob");
        assert_eq!(b.principal(), "bob");
        assert!(b.reserves("bob") && b.reserves(&key_principal("x")));
    }
}

//! Ownership rules (object-level authorization): who may read and change the objects that are
//! not intents (intents are under their ACL, [`super::acl`]). Declared once here; the handlers
//! and the store ask [`may`] with the object's owners as stored.
//!
//! | Object | Read | Change |
//! |---|---|---|
//! | webhook subscription | its subscriber, `admin` | its subscriber, `admin` |
//! | attachment | (the intent's ACL) | its uploader, the intent's creator, `admin` |
//! | agent assignment | (the intent's ACL) | the agent assigned, whoever assigned it, the intent's creator, `admin` |
//! | agent record (registry) | any key | the agent itself, `operator`, `admin` |
//! | channel (members, options, closing) | (the intent's ACL) | its creator, the intent's creator, `admin` |
//! | portfolio (status, members) | any key (members filtered by their ACLs) | its creator, `admin` |
//! | coordinator lease (heartbeat) | (its intent's ACL) | its agent, `admin` |
//!
//! A lease is not here: it is a claim on work in progress, renewed or released by its holder
//! only (admin keys included), and ended otherwise by its expiry (`store/leases.rs`).
//!
//! The `operator` role acts *for* others (identity fields in bodies may name anyone) and runs
//! the fleet (agent records); it does not manage the resources other principals own, which is
//! `admin`'s alone. Where the caller may not read an object at all (a subscription) a refusal
//! is answered as if the object did not exist (404), so that ids cannot be probed; where it
//! may read the object but not change it, the refusal is a 403 naming the rule.

use crate::config::Role;

/// A kind of object with owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    /// A webhook subscription; owner: its `subscriber_id`.
    Subscription,
    /// An attachment; owners: its `created_by`, the intent's `created_by`.
    Attachment,
    /// An agent assignment; owners: the agent, the assigner, the intent's `created_by`.
    Assignment,
    /// An agent's registry record; owner: the agent.
    AgentRecord,
    /// A messaging channel; owners: its `created_by`, the intent's `created_by`.
    Channel,
    /// A portfolio; owner: its `created_by`.
    Portfolio,
    /// A coordinator lease; owner: its `agent_id`.
    CoordinatorLease,
}

/// What the caller wants to do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read it (get, list, its deliveries).
    Read,
    /// Change or delete it.
    Change,
}

/// Whether `principal` (whose key has `role`) may `access` an `object` whose owners are
/// `owners` (empty or unknown entries never match).
pub(crate) fn may(object: Object, access: Access, principal: &str, role: Role, owners: &[Option<&str>]) -> bool {
    if role.manages_others_resources() {
        return true;
    }
    let owner = owners.iter().flatten().any(|o| !o.is_empty() && *o == principal);
    match (object, access) {
        // Readable by every key that may read the intent (checked by the ACL) or, for agent
        // records, by every key (the registry is a directory).
        (
            Object::Attachment
            | Object::Assignment
            | Object::AgentRecord
            | Object::Channel
            | Object::Portfolio
            | Object::CoordinatorLease,
            Access::Read,
        ) => true,
        (Object::AgentRecord, Access::Change) => owner || role.may_act_for_others(),
        (Object::Subscription, _) | (_, Access::Change) => owner,
    }
}

/// A refusal of [`check`], answered as the store's `NotFound` or `Forbidden` (404 or 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The caller may not read the object at all: answered as if it did not exist.
    NotFound(&'static str),
    /// The caller may read the object but not do this: the message names the rule.
    Forbidden(&'static str),
}

/// [`may`] as a result: the refusal is [`Refused::NotFound`] where the caller may not read
/// the object at all (a subscription, so that ids cannot be probed), else
/// [`Refused::Forbidden`] naming the rule.
pub(crate) fn check(
    object: Object,
    access: Access,
    principal: &str,
    role: Role,
    owners: &[Option<&str>],
) -> Result<(), Refused> {
    if may(object, access, principal, role, owners) {
        return Ok(());
    }
    Err(match object {
        Object::Subscription => Refused::NotFound("Subscription not found"),
        Object::Attachment => Refused::Forbidden(
            "Only the attachment's uploader, the intent's creator or an admin key may delete this attachment",
        ),
        Object::Assignment => Refused::Forbidden(
            "Only the agent assigned, whoever assigned it, the intent's creator or an admin key may unassign it",
        ),
        Object::Channel => Refused::Forbidden(
            "Only the channel's creator, the intent's creator or an admin key may change or close this channel",
        ),
        Object::Portfolio => {
            Refused::Forbidden("Only the portfolio's creator or an admin key may change this portfolio")
        }
        Object::AgentRecord => {
            Refused::Forbidden("Only the agent itself or an operator or admin key may change this agent's record")
        }
        Object::CoordinatorLease => {
            Refused::Forbidden("Only the lease's agent or an admin key may heartbeat this coordinator lease")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_their_subscribers_and_admins_only() {
        let owners = [Some("alice")];
        for access in [Access::Read, Access::Change] {
            assert!(may(Object::Subscription, access, "alice", Role::Agent, &owners));
            assert!(!may(Object::Subscription, access, "bob", Role::Agent, &owners));
            assert!(!may(Object::Subscription, access, "bob", Role::Operator, &owners));
            assert!(may(Object::Subscription, access, "bob", Role::Admin, &owners));
        }
        let refused = check(Object::Subscription, Access::Read, "bob", Role::Agent, &owners);
        assert!(matches!(refused, Err(Refused::NotFound("Subscription not found"))));
    }

    #[test]
    fn changes_need_an_owner_or_admin_and_agent_records_also_operators() {
        let owners = [Some("alice"), None, Some("carol")];
        for object in
            [Object::Attachment, Object::Assignment, Object::Channel, Object::Portfolio, Object::CoordinatorLease]
        {
            assert!(may(object, Access::Read, "bob", Role::Reader, &owners));
            assert!(may(object, Access::Change, "alice", Role::Agent, &owners));
            assert!(may(object, Access::Change, "carol", Role::Agent, &owners));
            assert!(!may(object, Access::Change, "bob", Role::Agent, &owners));
            assert!(!may(object, Access::Change, "bob", Role::Operator, &owners));
            assert!(may(object, Access::Change, "bob", Role::Admin, &owners));
            assert!(matches!(check(object, Access::Change, "bob", Role::Agent, &owners), Err(Refused::Forbidden(_))));
        }
        assert!(may(Object::AgentRecord, Access::Change, "bob", Role::Operator, &owners));
        assert!(!may(Object::AgentRecord, Access::Change, "bob", Role::Agent, &owners));
        assert!(!may(Object::Attachment, Access::Change, "", Role::Agent, &[Some("")]));
    }
}

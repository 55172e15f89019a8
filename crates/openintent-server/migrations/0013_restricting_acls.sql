-- The ACLs that restrict (a default policy other than `open`), indexed apart: every access check
-- asks whether any exists (`rules::acl::sql_nothing_restricted`), which this answers without
-- reading the ACLs that restrict nothing.
CREATE INDEX intent_acls_restricting ON intent_acls (intent_id) WHERE default_policy <> 'open';

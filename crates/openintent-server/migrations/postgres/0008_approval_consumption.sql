-- An approved `change_governance_policy` approval allows one policy change: the
-- change that uses it records when, and it does not count again.
ALTER TABLE approvals ADD COLUMN consumed_at TIMESTAMPTZ;

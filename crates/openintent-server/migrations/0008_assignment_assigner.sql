-- Who assigned an agent to an intent: one of those who may unassign it (ownership rules).
-- NULL for assignments made before it was recorded.
ALTER TABLE agent_assignments ADD COLUMN assigned_by TEXT;

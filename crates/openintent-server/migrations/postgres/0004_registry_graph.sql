-- The agent registry (RFC-0016). `status` is one of the RFC-0016 statuses; the
-- liveness sweeper moves silent agents to `unhealthy` and `dead` with a
-- compare-and-set update on (agent_id, status), so that several server
-- processes sharing a database write each transition once. `version` counts
-- registrations and status changes (heartbeats do not change it).
-- Intent graphs (RFC-0002) need no table: `intents.parent_id` and
-- `intents.depends_on` hold them.

CREATE TABLE agents (
    seq                   BIGSERIAL PRIMARY KEY,
    agent_id              TEXT NOT NULL UNIQUE,
    status                TEXT NOT NULL,
    role_id               TEXT,
    name                  TEXT,
    capabilities          JSONB NOT NULL DEFAULT '[]'::jsonb,
    capacity              JSONB,
    endpoint              TEXT,
    heartbeat_config      JSONB,
    metadata              JSONB NOT NULL DEFAULT '{}'::jsonb,
    drain_timeout_seconds BIGINT,
    version               BIGINT NOT NULL DEFAULT 1,
    registered_at         TIMESTAMPTZ NOT NULL,
    last_heartbeat_at     TIMESTAMPTZ,
    status_changed_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX agents_by_status ON agents (status);
CREATE INDEX agents_by_role ON agents (role_id);

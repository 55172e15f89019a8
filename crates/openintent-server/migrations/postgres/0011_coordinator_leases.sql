-- Coordinator leases (RFC-0013): an agent's grant to coordinate an intent or a portfolio.
-- Nothing acts on missed heartbeats; a heartbeat sets `last_heartbeat` only.
CREATE TABLE coordinator_leases (
    seq                        BIGSERIAL PRIMARY KEY,
    id                         TEXT NOT NULL UNIQUE,
    intent_id                  TEXT REFERENCES intents (id),
    portfolio_id               TEXT,
    agent_id                   TEXT NOT NULL,
    role                       TEXT NOT NULL,
    supervisor_id              TEXT,
    coordinator_type           TEXT NOT NULL,
    scope                      TEXT NOT NULL,
    status                     TEXT NOT NULL,
    guardrails                 JSONB NOT NULL DEFAULT '{}',
    heartbeat_interval_seconds BIGINT NOT NULL,
    last_heartbeat             TIMESTAMPTZ,
    granted_at                 TIMESTAMPTZ NOT NULL,
    expires_at                 TIMESTAMPTZ,
    version                    BIGINT NOT NULL DEFAULT 1,
    metadata                   JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX coordinator_leases_by_intent ON coordinator_leases (intent_id, seq);

-- Coordinator leases (RFC-0013): an agent's grant to coordinate an intent or a portfolio.
-- Nothing acts on missed heartbeats; a heartbeat sets `last_heartbeat` only.
CREATE TABLE coordinator_leases (
    seq                        INTEGER PRIMARY KEY AUTOINCREMENT,
    id                         TEXT NOT NULL UNIQUE,
    intent_id                  TEXT REFERENCES intents (id),
    portfolio_id               TEXT,
    agent_id                   TEXT NOT NULL,
    role                       TEXT NOT NULL,
    supervisor_id              TEXT,
    coordinator_type           TEXT NOT NULL,
    scope                      TEXT NOT NULL,
    status                     TEXT NOT NULL,
    guardrails                 TEXT NOT NULL DEFAULT '{}',
    heartbeat_interval_seconds INTEGER NOT NULL,
    last_heartbeat             TEXT,
    granted_at                 TEXT NOT NULL,
    expires_at                 TEXT,
    version                    INTEGER NOT NULL DEFAULT 1,
    metadata                   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX coordinator_leases_by_intent ON coordinator_leases (intent_id, seq);

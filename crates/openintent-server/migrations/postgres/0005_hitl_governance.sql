-- Human-in-the-loop timers (RFC-0025/0026) and governance approvals and escalations
-- (RFC-0013, the governance guide).

-- The pending timer of an intent's server-side suspension (`POST .../suspend`): when the next
-- re-notification or the expiry is due. One per intent; deleted when the suspension ends.
CREATE TABLE suspension_timers (
    seq           BIGSERIAL PRIMARY KEY,
    intent_id     TEXT NOT NULL UNIQUE REFERENCES intents (id),
    suspension_id TEXT NOT NULL,
    attempt       BIGINT NOT NULL DEFAULT 1,
    due_at        TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX suspension_timers_by_due ON suspension_timers (due_at);

CREATE TABLE approvals (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    intent_id      TEXT NOT NULL REFERENCES intents (id),
    requested_by   TEXT NOT NULL,
    action         TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    context        JSONB NOT NULL DEFAULT '{}'::jsonb,
    status         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    decided_at     TIMESTAMPTZ,
    decided_by     TEXT,
    decision_notes TEXT
);
CREATE INDEX approvals_by_intent ON approvals (intent_id, action, status);

CREATE TABLE escalations (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    intent_id        TEXT NOT NULL REFERENCES intents (id),
    escalated_by     TEXT NOT NULL,
    reason           TEXT NOT NULL,
    priority         TEXT NOT NULL,
    urgency          TEXT NOT NULL,
    context          JSONB NOT NULL DEFAULT '{}'::jsonb,
    status           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    resolved_at      TIMESTAMPTZ,
    resolved_by      TEXT,
    resolution       TEXT,
    resolution_notes TEXT
);
CREATE INDEX escalations_by_intent ON escalations (intent_id, status);
CREATE INDEX escalations_by_status ON escalations (status, created_at);

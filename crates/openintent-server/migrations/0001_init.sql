-- Schema of the OpenIntent server. Timestamps are TEXT in the wire format
-- (naive UTC, six fractional digits), which sorts lexicographically; JSON
-- documents (state, payloads, metadata) are TEXT JSON. Every table has a
-- monotonic `seq` used as the ordering tie-breaker.

CREATE TABLE intents (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    parent_id         TEXT,
    depends_on        TEXT NOT NULL DEFAULT '[]',
    constraints_doc   TEXT NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL,
    confidence        REAL NOT NULL DEFAULT 0,
    version           INTEGER NOT NULL DEFAULT 1,
    governance_policy TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX intents_by_created ON intents (created_at DESC, id);
CREATE INDEX intents_by_status ON intents (status);
CREATE INDEX intents_by_parent ON intents (parent_id);

-- The append-only event log.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    intent_id  TEXT NOT NULL REFERENCES intents (id),
    event_type TEXT NOT NULL,
    actor      TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX events_by_intent ON events (intent_id, created_at, seq);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;

CREATE TABLE agent_assignments (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    role        TEXT NOT NULL,
    assigned_at TEXT NOT NULL
);
CREATE INDEX agent_assignments_by_intent ON agent_assignments (intent_id, agent_id);

CREATE TABLE leases (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    scope       TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    released_at TEXT
);
CREATE INDEX leases_by_intent ON leases (intent_id, scope);

-- One row per (intent, scope): the lease currently holding the scope, if any.
-- Acquisition is a conditional upsert on this row, so at most one live lease
-- per scope exists whatever the concurrency.
CREATE TABLE lease_slots (
    intent_id  TEXT NOT NULL REFERENCES intents (id),
    scope      TEXT NOT NULL,
    lease_id   TEXT,
    holder     TEXT,
    expires_at TEXT,
    PRIMARY KEY (intent_id, scope)
);

CREATE TABLE arbitrations (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    intent_id    TEXT NOT NULL REFERENCES intents (id),
    requested_by TEXT NOT NULL,
    reason       TEXT NOT NULL,
    context      TEXT NOT NULL DEFAULT '{}',
    options      TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'pending',
    created_at   TEXT NOT NULL
);
CREATE INDEX arbitrations_by_intent ON arbitrations (intent_id);

CREATE TABLE decisions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT NOT NULL REFERENCES intents (id),
    decision_type TEXT NOT NULL,
    decided_by    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    rationale     TEXT NOT NULL DEFAULT '',
    evidence      TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX decisions_by_intent ON decisions (intent_id);

CREATE TABLE attachments (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    filename    TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    storage_url TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX attachments_by_intent ON attachments (intent_id);

CREATE TABLE costs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    cost_type   TEXT NOT NULL,
    amount      REAL NOT NULL,
    unit        TEXT NOT NULL,
    provider    TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    recorded_at TEXT NOT NULL
);
CREATE INDEX costs_by_intent ON costs (intent_id);

CREATE TABLE retry_policies (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT NOT NULL UNIQUE REFERENCES intents (id),
    strategy      TEXT NOT NULL,
    max_retries   INTEGER NOT NULL,
    base_delay_ms INTEGER NOT NULL,
    max_delay_ms  INTEGER NOT NULL,
    jitter        INTEGER NOT NULL,
    extras        TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE failures (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    intent_id          TEXT NOT NULL REFERENCES intents (id),
    agent_id           TEXT,
    error_type         TEXT NOT NULL,
    error_message      TEXT NOT NULL,
    attempt_number     INTEGER NOT NULL,
    will_retry         INTEGER,
    retry_scheduled_at TEXT,
    metadata           TEXT,
    occurred_at        TEXT NOT NULL
);
CREATE INDEX failures_by_intent ON failures (intent_id);

CREATE TABLE portfolios (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    status            TEXT NOT NULL,
    governance_policy TEXT NOT NULL DEFAULT '{}',
    metadata          TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX portfolios_by_creator ON portfolios (created_by);

CREATE TABLE portfolio_memberships (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    portfolio_id TEXT NOT NULL REFERENCES portfolios (id),
    intent_id    TEXT NOT NULL REFERENCES intents (id),
    role         TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    added_at     TEXT NOT NULL,
    UNIQUE (portfolio_id, intent_id)
);
CREATE INDEX portfolio_memberships_by_intent ON portfolio_memberships (intent_id);

CREATE TABLE subscriptions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT,
    portfolio_id  TEXT,
    subscriber_id TEXT NOT NULL,
    event_types   TEXT NOT NULL DEFAULT '[]',
    webhook_url   TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    expires_at    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX subscriptions_by_intent ON subscriptions (intent_id);
CREATE INDEX subscriptions_by_portfolio ON subscriptions (portfolio_id);

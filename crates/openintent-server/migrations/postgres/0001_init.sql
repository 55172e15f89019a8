-- Schema of the OpenIntent server on PostgreSQL: the same tables, columns and
-- meaning as ../0001_init.sql (SQLite), so one body of SQL serves both.
-- Timestamps are TEXT in the wire format (naive UTC, six fractional digits),
-- compared byte-wise (COLLATE "C") so that they sort as times; JSON documents
-- are TEXT JSON; booleans are BIGINT 0/1; every table has a BIGSERIAL `seq`
-- used as the ordering tie-breaker (appends to one intent's log are serialized
-- by a lock on the intent's row, so within a log `seq` follows commit order).

CREATE TABLE intents (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    parent_id         TEXT,
    depends_on        TEXT NOT NULL DEFAULT '[]',
    constraints_doc   TEXT NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL,
    confidence        DOUBLE PRECISION NOT NULL DEFAULT 0,
    version           BIGINT NOT NULL DEFAULT 1,
    governance_policy TEXT,
    created_at        TEXT COLLATE "C" NOT NULL,
    updated_at        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX intents_by_created ON intents (created_at DESC, id);
CREATE INDEX intents_by_status ON intents (status);
CREATE INDEX intents_by_parent ON intents (parent_id);

-- The append-only event log.
CREATE TABLE events (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    intent_id  TEXT NOT NULL REFERENCES intents (id),
    event_type TEXT NOT NULL,
    actor      TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_by_intent ON events (intent_id, created_at, seq);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END;
$$;
CREATE TRIGGER events_append_only_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

CREATE TABLE agent_assignments (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    role        TEXT NOT NULL,
    assigned_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX agent_assignments_by_intent ON agent_assignments (intent_id, agent_id);

CREATE TABLE leases (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    scope       TEXT NOT NULL,
    acquired_at TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL,
    released_at TEXT COLLATE "C"
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
    expires_at TEXT COLLATE "C",
    PRIMARY KEY (intent_id, scope)
);

CREATE TABLE arbitrations (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    intent_id    TEXT NOT NULL REFERENCES intents (id),
    requested_by TEXT NOT NULL,
    reason       TEXT NOT NULL,
    context      TEXT NOT NULL DEFAULT '{}',
    options      TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'pending',
    created_at   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX arbitrations_by_intent ON arbitrations (intent_id);

CREATE TABLE decisions (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT NOT NULL REFERENCES intents (id),
    decision_type TEXT NOT NULL,
    decided_by    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    rationale     TEXT NOT NULL DEFAULT '',
    evidence      TEXT,
    created_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX decisions_by_intent ON decisions (intent_id);

CREATE TABLE attachments (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    filename    TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        BIGINT NOT NULL,
    storage_url TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX attachments_by_intent ON attachments (intent_id);

CREATE TABLE costs (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    intent_id   TEXT NOT NULL REFERENCES intents (id),
    agent_id    TEXT NOT NULL,
    cost_type   TEXT NOT NULL,
    amount      DOUBLE PRECISION NOT NULL,
    unit        TEXT NOT NULL,
    provider    TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    recorded_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX costs_by_intent ON costs (intent_id);

CREATE TABLE retry_policies (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT NOT NULL UNIQUE REFERENCES intents (id),
    strategy      TEXT NOT NULL,
    max_retries   BIGINT NOT NULL,
    base_delay_ms BIGINT NOT NULL,
    max_delay_ms  BIGINT NOT NULL,
    jitter        BIGINT NOT NULL,
    extras        TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT COLLATE "C" NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL
);

CREATE TABLE failures (
    seq                BIGSERIAL PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    intent_id          TEXT NOT NULL REFERENCES intents (id),
    agent_id           TEXT,
    error_type         TEXT NOT NULL,
    error_message      TEXT NOT NULL,
    attempt_number     BIGINT NOT NULL,
    will_retry         BIGINT,
    retry_scheduled_at TEXT COLLATE "C",
    metadata           TEXT,
    occurred_at        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX failures_by_intent ON failures (intent_id);

CREATE TABLE portfolios (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    status            TEXT NOT NULL,
    governance_policy TEXT NOT NULL DEFAULT '{}',
    metadata          TEXT,
    created_at        TEXT COLLATE "C" NOT NULL,
    updated_at        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX portfolios_by_creator ON portfolios (created_by);

CREATE TABLE portfolio_memberships (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    portfolio_id TEXT NOT NULL REFERENCES portfolios (id),
    intent_id    TEXT NOT NULL REFERENCES intents (id),
    role         TEXT NOT NULL,
    priority     BIGINT NOT NULL,
    added_at     TEXT COLLATE "C" NOT NULL,
    UNIQUE (portfolio_id, intent_id)
);
CREATE INDEX portfolio_memberships_by_intent ON portfolio_memberships (intent_id);

CREATE TABLE subscriptions (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT,
    portfolio_id  TEXT,
    subscriber_id TEXT NOT NULL,
    event_types   TEXT NOT NULL DEFAULT '[]',
    webhook_url   TEXT,
    active        BIGINT NOT NULL DEFAULT 1,
    expires_at    TEXT COLLATE "C",
    created_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX subscriptions_by_intent ON subscriptions (intent_id);
CREATE INDEX subscriptions_by_portfolio ON subscriptions (portfolio_id);

-- Per-intent access control (RFC-0011), messaging channels (RFC-0021) and the
-- tracing fields of events (RFC-0020).

-- An intent's ACL header; an intent without a row is open (nothing is stored
-- by reading it).
CREATE TABLE intent_acls (
    intent_id      TEXT PRIMARY KEY REFERENCES intents (id),
    default_policy TEXT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE acl_entries (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    intent_id      TEXT NOT NULL REFERENCES intents (id),
    principal_id   TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    permission     TEXT NOT NULL,
    granted_by     TEXT NOT NULL,
    granted_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ,
    reason         TEXT
);
CREATE INDEX acl_entries_by_intent ON acl_entries (intent_id, seq);

CREATE TABLE access_requests (
    seq                  BIGSERIAL PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    intent_id            TEXT NOT NULL REFERENCES intents (id),
    principal_id         TEXT NOT NULL,
    principal_type       TEXT NOT NULL,
    requested_permission TEXT NOT NULL,
    reason               TEXT NOT NULL,
    status               TEXT NOT NULL,
    capabilities         JSONB NOT NULL DEFAULT '[]'::jsonb,
    decided_by           TEXT,
    decided_at           TIMESTAMPTZ,
    decision_reason      TEXT,
    created_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_requests_by_intent ON access_requests (intent_id, seq);

CREATE TABLE channels (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    intent_id     TEXT NOT NULL REFERENCES intents (id),
    name          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    members       JSONB NOT NULL DEFAULT '[]'::jsonb,
    member_policy TEXT NOT NULL,
    task_id       TEXT,
    options       JSONB NOT NULL DEFAULT '{}'::jsonb,
    status        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    closed_at     TIMESTAMPTZ
);
CREATE INDEX channels_by_intent ON channels (intent_id, seq);

CREATE TABLE channel_messages (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    channel_id     TEXT NOT NULL REFERENCES channels (id),
    sender         TEXT NOT NULL,
    to_target      TEXT,
    message_type   TEXT NOT NULL,
    correlation_id TEXT,
    payload        JSONB NOT NULL DEFAULT '{}'::jsonb,
    metadata       JSONB,
    status         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ,
    read_at        TIMESTAMPTZ
);
CREATE INDEX channel_messages_by_channel ON channel_messages (channel_id, seq);

ALTER TABLE events ADD COLUMN trace_id TEXT;
ALTER TABLE events ADD COLUMN parent_event_id TEXT;
CREATE INDEX events_by_trace ON events (trace_id);

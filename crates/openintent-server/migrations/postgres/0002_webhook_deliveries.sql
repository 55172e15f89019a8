-- PostgreSQL form of ../0002_webhook_deliveries.sql (same meaning).
-- Webhook delivery (RFC-0006): a per-subscription signing secret, and the
-- durable outbox of deliveries. A delivery row is written in the same
-- transaction as its event; workers claim due rows by setting `claimed_by`
-- and `claimed_until` (a lease: an expired claim is taken over), and record
-- each attempt. Times used for scheduling are Unix milliseconds.

ALTER TABLE subscriptions ADD COLUMN secret TEXT;

CREATE TABLE webhook_deliveries (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    -- pending | delivered | failed | cancelled
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    last_status     BIGINT,
    created_at      TEXT COLLATE "C" NOT NULL,
    finished_at     TEXT COLLATE "C"
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id);
CREATE INDEX webhook_deliveries_by_claim ON webhook_deliveries (claimed_by);

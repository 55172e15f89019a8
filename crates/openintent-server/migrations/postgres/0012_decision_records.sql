-- Coordinator decision records (RFC-0013): the auditable decisions a coordinator lease's
-- agent records on an intent (`POST /api/v1/decisions`), listed newest first per intent.
CREATE TABLE decision_records (
    seq                     BIGSERIAL PRIMARY KEY,
    id                      TEXT NOT NULL UNIQUE,
    coordinator_id          TEXT NOT NULL REFERENCES coordinator_leases (id),
    intent_id               TEXT NOT NULL REFERENCES intents (id),
    decision_type           TEXT NOT NULL,
    summary                 TEXT NOT NULL,
    rationale               TEXT NOT NULL,
    alternatives_considered JSONB NOT NULL DEFAULT '[]',
    confidence              DOUBLE PRECISION,
    recorded_by             TEXT NOT NULL,
    timestamp               TIMESTAMPTZ NOT NULL
);
CREATE INDEX decision_records_by_intent ON decision_records (intent_id, seq);

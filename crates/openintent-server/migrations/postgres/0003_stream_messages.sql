-- The messages of portfolio and agent event streams, kept so that a subscriber
-- can resume with Last-Event-ID (intent streams resume from the event log).
-- A message is written in the transaction of the change it describes, under a
-- transaction-scoped advisory lock on its channel (`portfolio:<id>`,
-- `agent:<id>`), so that within one channel `seq` follows commit order.

CREATE TABLE stream_messages (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    channel    TEXT NOT NULL,
    event      TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX stream_messages_by_channel ON stream_messages (channel, seq);

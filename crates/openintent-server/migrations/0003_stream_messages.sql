-- The messages of portfolio and agent event streams, kept so that a subscriber
-- can resume with Last-Event-ID (intent streams resume from the event log).
-- A message is written in the transaction of the change it describes; within
-- one channel (`portfolio:<id>`, `agent:<id>`), `seq` follows commit order.

CREATE TABLE stream_messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    channel    TEXT NOT NULL,
    event      TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX stream_messages_by_channel ON stream_messages (channel, seq);

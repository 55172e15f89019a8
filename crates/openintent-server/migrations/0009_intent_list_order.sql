-- The intent list's order (newest first, `seq` breaking ties between intents
-- created in the same microsecond) as an index, so that a page is read in
-- index order, and the intents skipped by its offset are skipped in the index
-- (`seq` is the rowid: the index alone holds the page's keys). It replaces the
-- index on (created_at DESC, id), which no query orders by.
CREATE INDEX intents_by_list_order ON intents (created_at DESC, seq DESC);
DROP INDEX intents_by_created;

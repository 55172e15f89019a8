-- PostgreSQL native types (the server now talks to PostgreSQL through sqlx's
-- PostgreSQL driver rather than its `Any` driver): timestamps become
-- TIMESTAMPTZ, JSON documents JSONB, the 0/1 flags BOOLEAN. Every row is kept.
--
-- Timestamps were stored as naive UTC text in the wire format
-- (`2026-01-02T03:04:05.123456`): each is read as a `timestamp` and placed in
-- UTC explicitly, whatever the session's time zone. JSONB keeps the value of
-- each document, not its text: object keys come back in JSONB's order, which
-- the server never relied on (it reads documents into sorted maps). The
-- scheduling times of webhook deliveries (`next_attempt_at`, `claimed_until`)
-- are Unix milliseconds and stay BIGINT.
--
-- A JSON default is dropped before its column changes type and set again
-- after (PostgreSQL does not cast a text default to JSONB on its own).

ALTER TABLE intents
    ALTER COLUMN depends_on DROP DEFAULT,
    ALTER COLUMN constraints_doc DROP DEFAULT,
    ALTER COLUMN state DROP DEFAULT,
    ALTER COLUMN depends_on TYPE JSONB USING depends_on::jsonb,
    ALTER COLUMN constraints_doc TYPE JSONB USING constraints_doc::jsonb,
    ALTER COLUMN state TYPE JSONB USING state::jsonb,
    ALTER COLUMN governance_policy TYPE JSONB USING governance_policy::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ USING updated_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN depends_on SET DEFAULT '[]'::jsonb,
    ALTER COLUMN constraints_doc SET DEFAULT '{}'::jsonb,
    ALTER COLUMN state SET DEFAULT '{}'::jsonb;

-- The log stays append-only: changing a column's type rewrites the table
-- without firing its row triggers.
ALTER TABLE events
    ALTER COLUMN payload DROP DEFAULT,
    ALTER COLUMN payload TYPE JSONB USING payload::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN payload SET DEFAULT '{}'::jsonb;

ALTER TABLE agent_assignments
    ALTER COLUMN assigned_at TYPE TIMESTAMPTZ USING assigned_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE leases
    ALTER COLUMN acquired_at TYPE TIMESTAMPTZ USING acquired_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN expires_at TYPE TIMESTAMPTZ USING expires_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN released_at TYPE TIMESTAMPTZ USING released_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE lease_slots
    ALTER COLUMN expires_at TYPE TIMESTAMPTZ USING expires_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE arbitrations
    ALTER COLUMN context DROP DEFAULT,
    ALTER COLUMN options DROP DEFAULT,
    ALTER COLUMN context TYPE JSONB USING context::jsonb,
    ALTER COLUMN options TYPE JSONB USING options::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN context SET DEFAULT '{}'::jsonb,
    ALTER COLUMN options SET DEFAULT '[]'::jsonb;

ALTER TABLE decisions
    ALTER COLUMN evidence TYPE JSONB USING evidence::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE attachments
    ALTER COLUMN metadata DROP DEFAULT,
    ALTER COLUMN metadata TYPE JSONB USING metadata::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN metadata SET DEFAULT '{}'::jsonb;

ALTER TABLE costs
    ALTER COLUMN metadata DROP DEFAULT,
    ALTER COLUMN metadata TYPE JSONB USING metadata::jsonb,
    ALTER COLUMN recorded_at TYPE TIMESTAMPTZ USING recorded_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN metadata SET DEFAULT '{}'::jsonb;

ALTER TABLE retry_policies
    ALTER COLUMN extras DROP DEFAULT,
    ALTER COLUMN jitter TYPE BOOLEAN USING jitter <> 0,
    ALTER COLUMN extras TYPE JSONB USING extras::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ USING updated_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN extras SET DEFAULT '{}'::jsonb;

ALTER TABLE failures
    ALTER COLUMN will_retry TYPE BOOLEAN USING will_retry <> 0,
    ALTER COLUMN retry_scheduled_at TYPE TIMESTAMPTZ USING retry_scheduled_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN metadata TYPE JSONB USING metadata::jsonb,
    ALTER COLUMN occurred_at TYPE TIMESTAMPTZ USING occurred_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE portfolios
    ALTER COLUMN governance_policy DROP DEFAULT,
    ALTER COLUMN governance_policy TYPE JSONB USING governance_policy::jsonb,
    ALTER COLUMN metadata TYPE JSONB USING metadata::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE TIMESTAMPTZ USING updated_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN governance_policy SET DEFAULT '{}'::jsonb;

ALTER TABLE portfolio_memberships
    ALTER COLUMN added_at TYPE TIMESTAMPTZ USING added_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE subscriptions
    ALTER COLUMN event_types DROP DEFAULT,
    ALTER COLUMN active DROP DEFAULT,
    ALTER COLUMN event_types TYPE JSONB USING event_types::jsonb,
    ALTER COLUMN active TYPE BOOLEAN USING active <> 0,
    ALTER COLUMN expires_at TYPE TIMESTAMPTZ USING expires_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN event_types SET DEFAULT '[]'::jsonb,
    ALTER COLUMN active SET DEFAULT TRUE;

ALTER TABLE webhook_deliveries
    ALTER COLUMN payload TYPE JSONB USING payload::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC',
    ALTER COLUMN finished_at TYPE TIMESTAMPTZ USING finished_at::timestamp AT TIME ZONE 'UTC';

ALTER TABLE stream_messages
    ALTER COLUMN data TYPE JSONB USING data::jsonb,
    ALTER COLUMN created_at TYPE TIMESTAMPTZ USING created_at::timestamp AT TIME ZONE 'UTC';

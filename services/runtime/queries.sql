-- Named queries of the shared runtime: outbox, inbox and migrations.

-- name: insert_outbox
INSERT INTO outbox (event_id, topic, partition_key, event_type, value, headers)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (event_id) DO NOTHING;

-- name: lock_unpublished_outbox
SELECT id, event_id, topic, partition_key, value, headers::text AS headers
FROM outbox
WHERE published_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: mark_outbox_published
UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]);

-- name: count_unpublished_outbox
SELECT count(*) FROM outbox WHERE published_at IS NULL;

-- name: mark_outbox_for_republish
UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL;

-- name: claim_inbox
INSERT INTO inbox (consumer, event_id, event_type, outcome)
VALUES ($1, $2, $3, $4)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT name FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (name) VALUES ($1);

-- name: try_relay_lock
-- One active outbox relay per schema: a session-level lock, released when its connection ends.
SELECT pg_try_advisory_lock(hashtext('outbox-relay:' || current_schema()));

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
    applied_at  timestamptz NOT NULL DEFAULT now(),
    checksum    text
);

-- name: add_migration_checksums
-- Schemas migrated before checksums were kept gain the column; their rows get one next.
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text;

-- name: applied_migrations
SELECT name, checksum FROM schema_migrations;

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: applied_migrations_as_recorded
SELECT * FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2);

-- name: adopt_migration_checksum
-- A migration applied before checksums were kept is taken to be the file as it is now.
UPDATE schema_migrations SET checksum = $2 WHERE name = $1 AND checksum IS NULL;

-- name: try_relay_lock
-- One active outbox relay per schema: a session-level lock, released when its connection ends.
SELECT pg_try_advisory_lock(hashtext('outbox-relay:' || current_schema()));

-- name: oldest_unpublished_outbox_age_s
SELECT extract(epoch FROM now() - created_at)::float8
FROM outbox
WHERE published_at IS NULL
ORDER BY id
LIMIT 1;

-- name: record_relay_positions
-- The last message this schema's relay published to each partition of a batch (one row per
-- partition, in arrays), to notice a broker that lost it. Returns the partitions that advanced:
-- one missing from the answer handed out an offset at or below the one recorded before.
INSERT INTO relay_positions (topic, partition, "offset", event_id)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::uuid[])
ON CONFLICT (topic, partition) DO UPDATE
SET "offset" = excluded."offset", event_id = excluded.event_id, recorded_at = now()
WHERE relay_positions."offset" < excluded."offset"
RETURNING topic, partition;

-- name: mark_outbox_published_recording_positions
-- `mark_outbox_published` ($5: the rows' ids) and `record_relay_positions` ($1-$4) in one
-- statement: one round trip fewer for every batch the relay publishes.
WITH marked AS (
    UPDATE outbox SET published_at = now() WHERE id = ANY($5::bigint[])
)
INSERT INTO relay_positions (topic, partition, "offset", event_id)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::uuid[])
ON CONFLICT (topic, partition) DO UPDATE
SET "offset" = excluded."offset", event_id = excluded.event_id, recorded_at = now()
WHERE relay_positions."offset" < excluded."offset"
RETURNING topic, partition;

-- name: relay_positions
SELECT topic, partition, "offset", event_id FROM relay_positions;

-- name: forget_relay_positions
DELETE FROM relay_positions;

-- name: mark_recent_outbox_for_republish
-- After the broker lost data: queue again every row published within the retention window.
UPDATE outbox SET published_at = NULL
WHERE published_at IS NOT NULL AND published_at >= now() - make_interval(secs => $1);

-- name: prune_published_outbox
DELETE FROM outbox
WHERE id IN (
    SELECT id FROM outbox
    WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)
    LIMIT $2
);

-- name: prune_inbox
DELETE FROM inbox
WHERE ctid IN (
    SELECT ctid FROM inbox WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2
);

-- name: claim_inbox_batch
-- A batch's messages recorded in the inbox in one statement; returns the ids not seen before.
INSERT INTO inbox (consumer, event_id, event_type, outcome)
SELECT $1, m.event_id, m.event_type, 'processed'
FROM unnest($2::uuid[], $3::text[]) AS m(event_id, event_type)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id;

-- name: insert_outbox_rows
-- A batch's outbox rows in one statement, in the order given (the relay publishes by id).
INSERT INTO outbox (event_id, topic, partition_key, event_type, value, headers)
SELECT r.event_id, r.topic, r.partition_key, r.event_type, r.value, r.headers::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])
     WITH ORDINALITY AS r(event_id, topic, partition_key, event_type, value, headers, position)
ORDER BY r.position
ON CONFLICT (event_id) DO NOTHING;

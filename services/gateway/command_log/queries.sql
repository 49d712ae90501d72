-- Named queries of the command log: accepted requests by Idempotency-Key, and commands' outcomes.

-- name: claim_command
-- No conflict target: the event id is derived from (principal, key), so two requests racing on
-- one key can meet on either unique index first; either way the loser claims nothing and replays.
INSERT INTO command_log (principal_id, idempotency_key, token_id, event_id, event_type, place_id,
                         method_path, request_hash, response_status, response_body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
ON CONFLICT DO NOTHING
RETURNING accepted_at;

-- name: claim_command_queueing
-- claim_command and the command's outbox row in one statement: one round trip with no
-- transaction around it, where claim, insert, BEGIN and COMMIT took four. The row is written only
-- when the key is claimed (the outbox's columns are the runtime's insert_outbox). Returns 1 when
-- claimed, 0 when this principal already used the key (nothing written).
WITH claimed AS (
    INSERT INTO command_log (principal_id, idempotency_key, token_id, event_id, event_type,
                             place_id, method_path, request_hash, response_status, response_body)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
    ON CONFLICT DO NOTHING
    RETURNING event_id
), queued AS (
    INSERT INTO outbox (event_id, topic, partition_key, event_type, value, headers)
    SELECT claimed.event_id, $11, $12, $5, $13, $14::jsonb FROM claimed
    ON CONFLICT (event_id) DO NOTHING
)
SELECT count(*)::int FROM claimed;

-- name: command_by_key
SELECT event_type, method_path, request_hash, response_status, response_body::text AS response_body,
       accepted_at
FROM command_log WHERE principal_id = $1 AND idempotency_key = $2;

-- ---- Command status: what became of each accepted command --------------------------------------

-- name: record_command_progress
-- A result or refusal correlated to a command a person sent; nothing for other correlations
-- (services' own work, events published before the command log). A refusal is final; what
-- a command made accumulates.
INSERT INTO command_outcomes (command_id, status, waiting_for, made, refusal, last_event_type,
                              updated_at)
SELECT event_id, $2, $3, $4::jsonb, $5::jsonb, $6, $7
FROM command_log WHERE event_id = $1
ON CONFLICT (command_id) DO UPDATE SET
    status = EXCLUDED.status,
    waiting_for = EXCLUDED.waiting_for,
    made = command_outcomes.made || EXCLUDED.made,
    refusal = EXCLUDED.refusal,
    last_event_type = EXCLUDED.last_event_type,
    updated_at = EXCLUDED.updated_at
WHERE command_outcomes.status <> 'refused';

-- name: record_commands_progress
-- `record_command_progress` for many commands at once (one entry per command: the projector's
-- batch path folds a fetch's entries for one command first, `status.fold_progress`).
INSERT INTO command_outcomes (command_id, status, waiting_for, made, refusal, last_event_type,
                              updated_at)
SELECT l.event_id, p.status, p.waiting_for, p.made::jsonb, p.refusal::jsonb, p.event_type, p.at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[]) AS p(command_id, status, waiting_for, made, refusal, event_type, at)
JOIN command_log l ON l.event_id = p.command_id
ON CONFLICT (command_id) DO UPDATE SET
    status = EXCLUDED.status,
    waiting_for = EXCLUDED.waiting_for,
    made = command_outcomes.made || EXCLUDED.made,
    refusal = EXCLUDED.refusal,
    last_event_type = EXCLUDED.last_event_type,
    updated_at = EXCLUDED.updated_at
WHERE command_outcomes.status <> 'refused';

-- name: command_status
SELECT l.event_id AS command_id, l.principal_id, l.event_type AS command_type, l.place_id,
       l.accepted_at, coalesce(o.status, 'accepted') AS status, o.waiting_for,
       coalesce(o.made, '{}'::jsonb)::text AS made, o.refusal::text AS refusal,
       o.last_event_type, o.updated_at
FROM command_log l LEFT JOIN command_outcomes o ON o.command_id = l.event_id
WHERE l.event_id = $1;

-- name: command_refusals_for_place
-- The place's refused commands, newest first, for the pages where their objects live.
SELECT o.command_id, l.event_type AS command_type, l.principal_id, o.refusal::text AS refusal,
       o.updated_at
FROM command_outcomes o JOIN command_log l ON l.event_id = o.command_id
WHERE l.place_id = $1 AND o.status = 'refused'
ORDER BY o.updated_at DESC LIMIT $2;

-- name: forget_outcomes
-- A rebuild of the read models replays every event, and with them what became of each command;
-- the outcomes of commands the gateway decided itself come from no event, so they stay.
DELETE FROM command_outcomes WHERE NOT decided_here;

-- name: accepted_keys
-- Which of these Idempotency-Keys a principal has already had accepted (the demo loader skips
-- their steps on a warm start: each accepted command's event is already in the outbox).
SELECT idempotency_key, request_hash FROM command_log
WHERE principal_id = $1 AND idempotency_key = ANY($2::text[]) AND response_status < 400;

-- Named queries of the gateway service.

-- ---- Identity ---------------------------------------------------------------------------------

-- name: upsert_principal
INSERT INTO principals (principal_id, kind, display_name) VALUES ($1, $2, $3)
ON CONFLICT (principal_id) DO UPDATE SET display_name = EXCLUDED.display_name;

-- name: add_grant
INSERT INTO grants (principal_id, role, place_id, subject_id) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: grants_of
SELECT role, place_id, subject_id FROM grants WHERE principal_id = $1
ORDER BY role, place_id, subject_id;

-- name: insert_token
INSERT INTO tokens (token_id, principal_id, token_hash, description, expires_at)
VALUES ($1, $2, $3, $4, $5);

-- name: token_by_hash
SELECT t.token_id, t.principal_id, t.expires_at, t.revoked_at,
       coalesce((SELECT json_agg(json_build_array(g.role, g.place_id, g.subject_id))
                 FROM grants g WHERE g.principal_id = t.principal_id), '[]')::text AS grants
FROM tokens t WHERE t.token_hash = $1;

-- name: revoke_token
UPDATE tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL
RETURNING token_id;

-- name: revoke_tokens_of
UPDATE tokens SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL
RETURNING token_id;

-- name: list_principals
SELECT p.principal_id, p.kind, p.display_name, p.created_at,
       coalesce((SELECT array_agg(g.role || CASE WHEN g.place_id = '*' THEN '' ELSE '@' || g.place_id END
                                  || CASE WHEN g.subject_id = '' THEN '' ELSE ':' || g.subject_id END
                                  ORDER BY g.role, g.place_id)
                 FROM grants g WHERE g.principal_id = p.principal_id), '{}') AS grants,
       (SELECT count(*) FROM tokens t WHERE t.principal_id = p.principal_id
          AND t.revoked_at IS NULL AND t.expires_at > now()) AS live_tokens
FROM principals p ORDER BY p.principal_id;

-- name: tokens_of
SELECT token_id, description, created_at, expires_at, revoked_at FROM tokens
WHERE principal_id = $1 ORDER BY created_at;

-- ---- Commands and idempotency -----------------------------------------------------------------

-- name: claim_command
INSERT INTO command_log (principal_id, idempotency_key, token_id, event_id, event_type, place_id,
                         method_path, request_hash, response_status, response_body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
ON CONFLICT (principal_id, idempotency_key) DO NOTHING
RETURNING accepted_at;

-- name: command_by_key
SELECT event_type, method_path, request_hash, response_status, response_body::text AS response_body,
       accepted_at
FROM command_log WHERE principal_id = $1 AND idempotency_key = $2;

-- ---- Read models: the pot ---------------------------------------------------------------------

-- name: add_to_pot_streams
INSERT INTO pot_streams (place_id, financial_year, department_code, funding_stream_code,
                         settled_pence, received_pence, reserved_pence, paid_pence)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::bigint[])
ON CONFLICT (place_id, financial_year, department_code, funding_stream_code) DO UPDATE SET
    settled_pence = pot_streams.settled_pence + EXCLUDED.settled_pence,
    received_pence = pot_streams.received_pence + EXCLUDED.received_pence,
    reserved_pence = pot_streams.reserved_pence + EXCLUDED.reserved_pence,
    paid_pence = pot_streams.paid_pence + EXCLUDED.paid_pence;

-- name: pot_for_place
SELECT financial_year, department_code, funding_stream_code, settled_pence, received_pence,
       reserved_pence, paid_pence
FROM pot_streams WHERE place_id = $1
ORDER BY financial_year, department_code, funding_stream_code;

-- name: statements_for_place
SELECT s.financial_year,
       sum(s.settled_pence)::bigint AS settled_pence,
       sum(s.received_pence)::bigint AS received_pence,
       sum(s.reserved_pence)::bigint AS reserved_pence,
       sum(s.paid_pence)::bigint AS paid_pence,
       (sum(s.settled_pence) - sum(s.reserved_pence))::bigint AS available_pence,
       EXISTS (SELECT 1 FROM closed_periods c
               WHERE c.place_id = $1 AND c.financial_year = s.financial_year) AS closed
FROM pot_streams s WHERE s.place_id = $1
GROUP BY s.financial_year ORDER BY s.financial_year;

-- name: close_period
INSERT INTO closed_periods (place_id, financial_year) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: insert_spends
INSERT INTO spend_records (spend_id, place_id, amount_pence, record)
SELECT spend_id, place_id, amount_pence, record::jsonb
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
    AS s(spend_id, place_id, amount_pence, record)
ON CONFLICT (spend_id) DO NOTHING;

-- name: spend_for_place
SELECT record::text AS record FROM spend_records WHERE place_id = $1
ORDER BY received_at, spend_id LIMIT $2;

-- ---- Read models: allocations, reservations ---------------------------------------------------

-- name: insert_allocation
INSERT INTO allocations (place_id, allocation_id, allocation_type, recipient_id, purpose,
                         mission_id, start_date, end_date, value_pence, financial_year,
                         proposed_by, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'proposed')
ON CONFLICT (place_id, allocation_id) DO NOTHING;

-- name: set_allocation_status
UPDATE allocations SET status = $3, status_reason = $4, updated_at = now()
WHERE place_id = $1 AND allocation_id = $2;

-- name: set_allocation_decided
UPDATE allocations SET status = 'approved', decided_by = $3, updated_at = now()
WHERE place_id = $1 AND allocation_id = $2;

-- name: set_allocation_funded
UPDATE allocations SET status = 'funded', funded_pence = $3, updated_at = now()
WHERE place_id = $1 AND allocation_id = $2;

-- name: set_allocation_varied
UPDATE allocations SET value_pence = $3, end_date = coalesce($4, end_date),
       purpose = coalesce($5, purpose), status_reason = $6, updated_at = now()
WHERE place_id = $1 AND allocation_id = $2;

-- name: allocations_for_place
SELECT allocation_id, allocation_type, recipient_id, purpose, mission_id,
       start_date::text AS start_date, end_date::text AS end_date, value_pence, financial_year,
       proposed_by, decided_by, status, status_reason, funded_pence
FROM allocations WHERE place_id = $1 ORDER BY allocation_id LIMIT $2;

-- name: insert_reservation
INSERT INTO reservations (place_id, allocation_id, financial_year, amount_pence, attribution)
VALUES ($1, $2, $3, $4, $5::jsonb)
ON CONFLICT (place_id, allocation_id) DO NOTHING;

-- name: release_reservation
UPDATE reservations SET released_pence = released_pence + $3
WHERE place_id = $1 AND allocation_id = $2
RETURNING financial_year, attribution::text AS attribution;

-- ---- Read models: contracts, evidence, payments -----------------------------------------------

-- name: insert_contract
INSERT INTO contracts (place_id, contract_id, allocation_id, provider_id, prices, cap_pence)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (place_id, contract_id) DO NOTHING;

-- name: contract_provider
SELECT provider_id FROM contracts WHERE place_id = $1 AND contract_id = $2;

-- name: contracts_for_place
SELECT contract_id, allocation_id, provider_id, prices::text AS prices, cap_pence
FROM contracts
WHERE place_id = $1 AND ($2::text[] IS NULL OR provider_id = ANY($2::text[]))
ORDER BY contract_id LIMIT $3;

-- name: upsert_evidence_batch
INSERT INTO evidence_batches (place_id, contract_id, batch_id, provider_id, status, claim_count,
                              accepted_count, rejected_count, verified_count, amount_pence,
                              reasons)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (place_id, contract_id, batch_id) DO UPDATE SET
    provider_id = CASE WHEN EXCLUDED.provider_id = '' THEN evidence_batches.provider_id
                       ELSE EXCLUDED.provider_id END,
    status = EXCLUDED.status,
    claim_count = evidence_batches.claim_count + EXCLUDED.claim_count,
    accepted_count = evidence_batches.accepted_count + EXCLUDED.accepted_count,
    rejected_count = evidence_batches.rejected_count + EXCLUDED.rejected_count,
    verified_count = greatest(evidence_batches.verified_count, EXCLUDED.verified_count),
    amount_pence = greatest(evidence_batches.amount_pence, EXCLUDED.amount_pence),
    reasons = evidence_batches.reasons || EXCLUDED.reasons,
    updated_at = now();

-- name: add_evidence_sample
INSERT INTO evidence_batches (place_id, contract_id, batch_id, status, sample_size, sample)
VALUES ($1, $2, $3, 'awaiting_verification', $4, $5::jsonb)
ON CONFLICT (place_id, contract_id, batch_id) DO UPDATE SET
    status = 'awaiting_verification', sample_size = EXCLUDED.sample_size,
    sample = evidence_batches.sample || EXCLUDED.sample, updated_at = now();

-- name: evidence_for_contract
SELECT batch_id, provider_id, status, claim_count, accepted_count, rejected_count,
       verified_count, amount_pence, reasons::text AS reasons, sample_size, sample::text AS sample
FROM evidence_batches WHERE place_id = $1 AND contract_id = $2 ORDER BY batch_id LIMIT $3;

-- name: insert_payment
INSERT INTO payments (place_id, payment_id, allocation_id, provider_id, contract_id,
                      claim_batch_id, amount_pence, payment_kind, status, reason, attribution)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (place_id, payment_id) DO NOTHING;

-- name: add_recovery
UPDATE payments SET recovered_pence = recovered_pence + $3
WHERE place_id = $1 AND payment_id = $2;

-- name: payments_for_place
SELECT payment_id, allocation_id, provider_id, contract_id, claim_batch_id, amount_pence,
       payment_kind, status, reason, recovered_pence, attribution::text AS attribution
FROM payments WHERE place_id = $1 ORDER BY recorded_at, payment_id LIMIT $2;

-- ---- Department spend feed --------------------------------------------------------------------

-- name: lock_spend_feed
-- Held to commit, so feed sequence numbers are handed out and committed in the same order:
-- a reader that saw number n never later finds a new row below n.
SELECT pg_advisory_xact_lock(hashtext('gateway.department_spend'));

-- name: append_department_spend
-- Each department's view of one spend joins the feed, and a delivery is queued for each of that
-- department's active webhooks; a view already in the feed (a replayed event) adds nothing.
WITH views AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::uuid[])
        WITH ORDINALITY AS v(department_code, amount_pence, record, place_id, spend_id, event_id,
                             position)
), appended AS (
    INSERT INTO department_spend (sequence, department_code, place_id, spend_id, event_id,
                                  amount_pence, record)
    SELECT nextval('department_spend_sequence'), v.department_code, v.place_id, v.spend_id,
           v.event_id, v.amount_pence, v.record::jsonb
    FROM (SELECT * FROM views ORDER BY position) v
    ON CONFLICT (event_id, department_code) DO NOTHING
    RETURNING sequence, department_code, event_id
)
INSERT INTO webhook_deliveries (subscription_id, sequence, event_id, status)
SELECT s.subscription_id, a.sequence, a.event_id, 'pending'
FROM appended a JOIN webhook_subscriptions s ON s.department_code = a.department_code AND s.active
ON CONFLICT (subscription_id, event_id) DO NOTHING;

-- name: department_spend_after
SELECT sequence, event_id, place_id, record::text AS record, received_at
FROM department_spend WHERE department_code = $1 AND sequence > $2
ORDER BY sequence LIMIT $3;

-- ---- Webhooks ---------------------------------------------------------------------------------

-- name: insert_subscription
INSERT INTO webhook_subscriptions (subscription_id, department_code, url, secret, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING created_at;

-- name: subscriptions_of
SELECT subscription_id, department_code, url, created_by, created_at, active
FROM webhook_subscriptions WHERE department_code = $1 ORDER BY created_at;

-- name: subscription
SELECT subscription_id, department_code, url, created_by, created_at, active
FROM webhook_subscriptions WHERE department_code = $1 AND subscription_id = $2;

-- name: deactivate_subscription
UPDATE webhook_subscriptions SET active = false
WHERE department_code = $1 AND subscription_id = $2 RETURNING subscription_id;

-- name: replay_since
INSERT INTO webhook_deliveries (subscription_id, sequence, event_id, status)
SELECT $1, sequence, event_id, 'pending' FROM department_spend
WHERE department_code = $2 AND received_at >= $3
ON CONFLICT (subscription_id, event_id) DO UPDATE SET
    status = 'pending', attempts = 0, next_attempt_at = now(), last_error = '',
    delivered_at = NULL;

-- name: lock_due_deliveries
SELECT d.delivery_id, d.subscription_id, d.sequence, d.event_id, d.attempts, s.url, s.secret,
       f.department_code, f.place_id, f.record::text AS record
FROM webhook_deliveries d
JOIN webhook_subscriptions s USING (subscription_id)
JOIN department_spend f ON f.sequence = d.sequence
WHERE d.status = 'pending' AND d.next_attempt_at <= now()
ORDER BY d.next_attempt_at, d.delivery_id
LIMIT $1
FOR UPDATE OF d SKIP LOCKED;

-- name: record_delivery_outcomes
-- One statement for a whole batch of attempts: each delivery's new state, and its log row.
WITH outcome AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[], $5::int[], $6::int[],
                         $7::int[])
        AS o(delivery_id, status, retry_in_s, error, attempt, status_code, duration_ms)
), updated AS (
    UPDATE webhook_deliveries d SET status = o.status, attempts = o.attempt,
           next_attempt_at = now() + make_interval(secs => o.retry_in_s), last_error = o.error,
           delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE NULL END
    FROM outcome o WHERE d.delivery_id = o.delivery_id
)
INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
SELECT delivery_id, attempt, status_code, error, duration_ms FROM outcome;

-- name: deliveries_of
SELECT d.delivery_id, d.sequence, d.event_id, d.status, d.attempts, d.last_error,
       d.created_at, d.next_attempt_at, d.delivered_at,
       coalesce((SELECT json_agg(json_build_object(
                     'attempt', a.attempt, 'attempted_at', a.attempted_at,
                     'status_code', a.status_code, 'error', a.error,
                     'duration_ms', a.duration_ms) ORDER BY a.attempt_id)
                 FROM webhook_attempts a WHERE a.delivery_id = d.delivery_id), '[]')::text
           AS attempt_log
FROM webhook_deliveries d
WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
ORDER BY d.delivery_id LIMIT $3;

-- name: claim_inbox_batch
INSERT INTO inbox (consumer, event_id, event_type, outcome)
SELECT $1, event_id, event_type, 'processed'
FROM unnest($2::uuid[], $3::text[]) AS incoming(event_id, event_type)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id;

-- ---- Rebuilding the read models ---------------------------------------------------------------

-- name: truncate_read_models
-- The department feed and webhook deliveries are kept: their numbers are public (SSE event ids)
-- and a rebuild must not deliver spend to receivers again.
TRUNCATE pot_streams, spend_records, allocations, reservations, contracts, evidence_batches,
         payments, closed_periods;

-- name: forget_inbox
DELETE FROM inbox WHERE consumer = $1;

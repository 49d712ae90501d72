-- Named queries of the delivery room: the department spend feed, webhook subscriptions and
-- deliveries.

-- ---- Department spend feed --------------------------------------------------------------------

-- name: lock_spend_feed
-- Held to commit, so feed sequence numbers are handed out and committed in the same order:
-- a reader that saw number n never later finds a new row below n.
SELECT pg_advisory_xact_lock(hashtext('gateway.department_spend'));

-- name: append_department_spend
-- Each department's view of one spend joins the feed, and a delivery is queued for each of that
-- department's active webhooks that cover the spend's place; a view already in the feed (a
-- replayed event) adds nothing.
WITH views AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                         $7::text[])
        WITH ORDINALITY AS v(department_code, amount_pence, record, place_id, spend_id, event_id,
                             traceparent, position)
), appended AS (
    INSERT INTO department_spend (sequence, department_code, place_id, spend_id, event_id,
                                  amount_pence, record, traceparent)
    SELECT nextval('department_spend_sequence'), v.department_code, v.place_id, v.spend_id,
           v.event_id, v.amount_pence, v.record::jsonb, v.traceparent
    FROM (SELECT * FROM views ORDER BY position) v
    ON CONFLICT (event_id, department_code) DO NOTHING
    RETURNING sequence, department_code, event_id, place_id
)
INSERT INTO webhook_deliveries (subscription_id, sequence, event_id, status)
SELECT s.subscription_id, a.sequence, a.event_id, 'pending'
FROM appended a
JOIN webhook_subscriptions s ON s.department_code = a.department_code AND s.active
    AND (s.place_ids IS NULL OR a.place_id = ANY(s.place_ids))
ON CONFLICT (subscription_id, event_id) DO NOTHING;

-- name: department_spend_after
-- $4: the places the reader's grants cover (NULL: every place).
SELECT sequence, event_id, place_id, record::text AS record, received_at
FROM department_spend WHERE department_code = $1 AND sequence > $2
  AND ($4::text[] IS NULL OR place_id = ANY($4::text[]))
ORDER BY sequence LIMIT $3;

-- ---- Webhooks ---------------------------------------------------------------------------------

-- name: insert_subscription
INSERT INTO webhook_subscriptions (subscription_id, department_code, url, secret, created_by,
                                   place_ids)
VALUES ($1, $2, $3, $4, $5, $6::text[])
RETURNING created_at;

-- name: subscriptions_of
-- Only those whose places all lie within $2, the caller's places (NULL: every place).
SELECT subscription_id, department_code, url, created_by, created_at, active, deactivated_at,
       deactivated_by, place_ids
FROM webhook_subscriptions WHERE department_code = $1
  AND ($2::text[] IS NULL OR (place_ids IS NOT NULL AND place_ids <@ $2::text[]))
ORDER BY created_at;

-- name: subscription
-- Found only when its places all lie within $3, the caller's places (NULL: every place).
SELECT subscription_id, department_code, url, created_by, created_at, active, deactivated_at,
       deactivated_by, place_ids
FROM webhook_subscriptions WHERE department_code = $1 AND subscription_id = $2
  AND ($3::text[] IS NULL OR (place_ids IS NOT NULL AND place_ids <@ $3::text[]));

-- name: deactivate_subscription
-- Stop a subscription (once: a second call changes nothing) and cancel its pending deliveries.
-- One being posted right now is cancelled too and keeps its claim: its attempt is logged when
-- the POST ends, and it is delivered after all if the receiver took it
-- (record_delivery_outcomes). Returns how many were cancelled.
WITH stopped AS (
    UPDATE webhook_subscriptions SET active = false, deactivated_at = now(), deactivated_by = $3
    WHERE department_code = $1 AND subscription_id = $2 AND active
    RETURNING subscription_id
), cancelled AS (
    UPDATE webhook_deliveries d SET status = 'cancelled', last_error = $4
    FROM stopped s WHERE d.subscription_id = s.subscription_id AND d.status = 'pending'
    RETURNING d.delivery_id
)
SELECT count(*)::int FROM cancelled;

-- name: replay_since
-- A delivery being posted right now (its claim held) is left to that attempt: made due at once,
-- another process would post it at the same time.
INSERT INTO webhook_deliveries (subscription_id, sequence, event_id, status)
SELECT $1, f.sequence, f.event_id, 'pending' FROM department_spend f
JOIN webhook_subscriptions s ON s.subscription_id = $1
WHERE f.department_code = $2 AND f.received_at >= $3
  AND (s.place_ids IS NULL OR f.place_id = ANY(s.place_ids))
ON CONFLICT (subscription_id, event_id) DO UPDATE SET
    status = 'pending', attempts = 0, next_attempt_at = now(), last_error = '',
    delivered_at = NULL, claim_id = NULL
WHERE webhook_deliveries.claim_id IS NULL OR webhook_deliveries.next_attempt_at <= now();

-- name: claim_due_deliveries
-- Take up $1 due deliveries at most, oldest first, and at most $2 of one subscription being
-- posted at once by every process together, so a slow or dead receiver holds no more than its
-- share of the slots. A claim ($3, by $4) moves the delivery's next attempt $5 seconds on, past
-- the POST's timeout, and commits before the POST: no other process takes it up meanwhile, and
-- if this one dies the delivery falls due again by itself. The attempt is counted here, once
-- per POST. A delivery found with a claim that lapsed (its process died mid-POST) gets that
-- attempt's log row ($8), and is a dead letter instead if that was its last attempt ($6); one
-- of a subscription already stopped is cancelled ($7), never posted. `attempts` comes back as
-- the count before this claim.
WITH due AS (
    SELECT d.delivery_id, d.attempts, d.claim_id AS lapsed_claim_id, d.claimed_at,
           d.next_attempt_at,
           CASE WHEN NOT s.active THEN 'cancelled'
                WHEN d.claim_id IS NOT NULL AND d.attempts >= $6 THEN 'dead'
                ELSE 'claimed' END AS fate
    FROM webhook_subscriptions s
    CROSS JOIN LATERAL (
        SELECT * FROM webhook_deliveries w
        WHERE w.subscription_id = s.subscription_id AND w.status = 'pending'
          AND w.next_attempt_at <= now()
        ORDER BY w.next_attempt_at, w.delivery_id
        LIMIT CASE WHEN s.active THEN greatest(0, least($1, $2 - (
            SELECT count(*) FROM webhook_deliveries held
            WHERE held.subscription_id = s.subscription_id AND held.status = 'pending'
              AND held.claim_id IS NOT NULL AND held.next_attempt_at > now())))
            ELSE $1 END
        FOR UPDATE SKIP LOCKED
    ) d
    ORDER BY d.next_attempt_at, d.delivery_id
    LIMIT $1
), abandoned AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
    SELECT delivery_id, attempts, NULL, $8,
           greatest(0, coalesce(extract(epoch FROM next_attempt_at - claimed_at) * 1000, 0))::int
    FROM due WHERE lapsed_claim_id IS NOT NULL
), taken AS (
    UPDATE webhook_deliveries w SET
        status = CASE due.fate WHEN 'claimed' THEN 'pending' ELSE due.fate END,
        attempts = w.attempts + (due.fate = 'claimed')::int,
        next_attempt_at = CASE WHEN due.fate = 'claimed'
                               THEN now() + make_interval(secs => $5)
                               ELSE w.next_attempt_at END,
        last_error = CASE due.fate WHEN 'cancelled' THEN $7 WHEN 'dead' THEN $8
                                   ELSE w.last_error END,
        claim_id = CASE WHEN due.fate = 'claimed' THEN $3::uuid END,
        claimed_by = CASE WHEN due.fate = 'claimed' THEN $4::text ELSE w.claimed_by END,
        claimed_at = CASE WHEN due.fate = 'claimed' THEN now() ELSE w.claimed_at END
    FROM due WHERE w.delivery_id = due.delivery_id
    RETURNING w.delivery_id, w.subscription_id, w.sequence, w.event_id, w.claim_id,
              due.attempts, due.fate
)
SELECT t.delivery_id, t.subscription_id, t.sequence, t.event_id, t.attempts, t.claim_id, t.fate,
       s.url, s.secret, s.active, f.department_code, f.place_id, f.record::text AS record,
       f.traceparent
FROM taken t
JOIN webhook_subscriptions s USING (subscription_id)
JOIN department_spend f ON f.sequence = t.sequence
ORDER BY t.delivery_id;

-- name: record_delivery_outcomes
-- The outcomes of the attempts that ended meanwhile, in one statement: each delivery's new state
-- and its log row, only where the attempt's claim is still held. A process whose claim lapsed
-- and was taken up by another changes nothing (that attempt was logged when it was taken up);
-- a delivery stopped while it was posted stays cancelled unless the receiver took it.
WITH outcome AS (
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::float8[], $5::text[],
                         $6::int[], $7::int[], $8::int[])
        AS o(delivery_id, claim_id, status, retry_in_s, error, attempt, status_code, duration_ms)
), recorded AS (
    UPDATE webhook_deliveries d SET
        status = CASE WHEN d.status = 'pending' OR o.status = 'delivered' THEN o.status
                      ELSE d.status END,
        next_attempt_at = now() + make_interval(secs => o.retry_in_s),
        last_error = CASE WHEN d.status = 'pending' OR o.status = 'delivered' THEN o.error
                          ELSE d.last_error END,
        delivered_at = CASE WHEN o.status = 'delivered' THEN now() END,
        claim_id = NULL
    FROM outcome o WHERE d.delivery_id = o.delivery_id AND d.claim_id = o.claim_id
    RETURNING d.delivery_id
)
INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
SELECT o.delivery_id, o.attempt, o.status_code, o.error, o.duration_ms
FROM outcome o JOIN recorded USING (delivery_id);

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

-- name: department_spend_rows
SELECT f.sequence, f.event_id, f.spend_id, f.amount_pence AS department_amount_pence,
       f.record::text AS record,
       -- A recovery carries its own date; a spend's date is the spend list's (the projections
       -- room's), filled in by the caller.
       (f.record->>'recovered_at')::timestamptz AS spent_at
FROM department_spend f
WHERE f.place_id = $1 AND f.department_code = $2 ORDER BY f.sequence;

-- name: statement_by_year
-- Paid, recovered (clawed back) and net per financial year, from the department spend feed:
-- one department's part ($2), or every department's part of one provider's payments ($3).
SELECT record ->> 'financial_year' AS financial_year,
       coalesce(sum(amount_pence) FILTER (WHERE amount_pence > 0), 0)::bigint AS paid_pence,
       coalesce(-sum(amount_pence) FILTER (WHERE amount_pence < 0), 0)::bigint AS recovered_pence
FROM department_spend
WHERE place_id = $1 AND ($2::text IS NULL OR department_code = $2)
  AND ($3::text IS NULL OR record ->> 'provider_id' = $3)
GROUP BY 1 ORDER BY 1;

-- name: reconcile_departments
-- Each department's feed (spend, and recoveries as negative spend), per financial year.
SELECT department_code, record->>'financial_year' AS financial_year,
       sum(amount_pence)::bigint AS net_pence
FROM department_spend WHERE place_id = $1
GROUP BY department_code, record->>'financial_year' ORDER BY 1, 2;

-- name: recoveries_by_year
-- The recoveries booked in each financial year, as the department feeds carry them (one row per
-- department with a share; negative).
SELECT record->>'financial_year' AS financial_year, sum(amount_pence)::bigint AS net_pence
FROM department_spend WHERE place_id = $1 AND record->>'kind' = 'recovery'
GROUP BY 1 ORDER BY 1;

-- Recoveries in the totals: the feed's negative rows (delivery/db.py).

-- name: recovered_by_department
-- What was recovered of payments per department in a financial year: the recoveries' negative
-- rows of the department feed, in the year the ledger booked each recovery.
SELECT department_code, (-sum(amount_pence))::bigint AS recovered_pence
FROM department_spend
WHERE place_id = $1 AND amount_pence < 0 AND record ->> 'financial_year' = $2
GROUP BY department_code ORDER BY department_code;

-- name: spend_by_month_net
-- Each department's spend by month (UK time) net of recoveries: the shares of each spend (as
-- the gateway's spend_by_month has them) and each recovery's negative share from the department
-- feed, in the month the ledger recorded it; cumulative per department.
WITH shares AS (
    SELECT coalesce(s.spent_at, s.received_at) AS moment,
           share->>'department_code' AS department_code,
           (share->>'amount_pence')::bigint AS amount_pence
    FROM spend_records s, jsonb_array_elements(s.record->'attribution') AS share
    WHERE s.place_id = $1
    UNION ALL
    SELECT coalesce((d.record->>'recovered_at')::timestamptz, d.received_at), d.department_code,
           d.amount_pence
    FROM department_spend d
    WHERE d.place_id = $1 AND d.amount_pence < 0
), monthly AS (
    SELECT to_char(moment AT TIME ZONE 'Europe/London', 'YYYY-MM') AS month, department_code,
           sum(amount_pence)::bigint AS spent_pence
    FROM shares WHERE $2::text IS NULL OR department_code = $2
    GROUP BY 1, 2
)
SELECT month, department_code, spent_pence,
       (sum(spent_pence) OVER (PARTITION BY department_code ORDER BY month))::bigint
           AS cumulative_pence
FROM monthly ORDER BY department_code, month;

-- Named queries of the outcomes service.

-- name: contract_exists
SELECT EXISTS (SELECT 1 FROM contracts WHERE contract_id = $1);

-- name: insert_contract
INSERT INTO contracts (contract_id, place_id, allocation_id, provider_id, cap_pence, start_date,
                       end_date, difficulty_segments, social_value_kpi_ids, social_impact_bond,
                       terms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb);

-- name: insert_metric_price
INSERT INTO metric_prices (contract_id, metric_id, price_pence, cap_pence, payer_id, definition)
VALUES ($1, $2, $3, $4, $5, $6::jsonb);

-- name: insert_metric_version
INSERT INTO metric_versions (contract_id, metric_id, version, effective_from, price_pence,
                             definition, agreed_by, reason)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8);

-- name: insert_payer
INSERT INTO payers (contract_id, payer_id, cap_pence) VALUES ($1, $2, $3);

-- name: insert_claim_period
INSERT INTO claim_periods (contract_id, claim_period_id, starts_on, ends_on, claim_deadline,
                           planned_payment_pence)
VALUES ($1, $2, $3, $4, $5, $6);

-- The contract with its metrics, versions, payers and claim periods, in one round trip (each
-- evidence command locks its contract twice; five queries each were a fifth of its round trips).
-- The four lists come as JSON arrays of arrays, in the order the separate queries gave them.
-- name: lock_contract
SELECT c.contract_id, c.place_id, c.allocation_id, c.provider_id, c.cap_pence, c.start_date,
       c.end_date, c.difficulty_segments, c.social_value_kpi_ids, c.social_impact_bond,
       (SELECT coalesce(json_agg(json_build_array(m.metric_id, m.cap_pence, m.payer_id,
                                                  m.committed_pence)), '[]')
        FROM metric_prices AS m WHERE m.contract_id = c.contract_id)::text AS metrics,
       (SELECT coalesce(json_agg(json_build_array(v.metric_id, v.version, v.effective_from,
                                                  v.price_pence)
                                 ORDER BY v.metric_id, v.version), '[]')
        FROM metric_versions AS v WHERE v.contract_id = c.contract_id)::text AS versions,
       (SELECT coalesce(json_agg(json_build_array(p.payer_id, p.cap_pence)), '[]')
        FROM payers AS p WHERE p.contract_id = c.contract_id)::text AS payers,
       (SELECT coalesce(json_agg(json_build_array(q.claim_period_id, q.starts_on, q.ends_on,
                                                  q.claim_deadline, q.planned_payment_pence)
                                 ORDER BY q.starts_on), '[]')
        FROM claim_periods AS q WHERE q.contract_id = c.contract_id)::text AS claim_periods
FROM contracts AS c WHERE c.contract_id = $1
FOR UPDATE OF c;

-- name: contracts_on_allocation
SELECT contract_id FROM contracts WHERE place_id = $1 AND allocation_id = $2 ORDER BY contract_id;

-- name: add_committed
UPDATE metric_prices AS m SET committed_pence = m.committed_pence + delta.pence
FROM unnest($2::text[], $3::bigint[]) AS delta(metric_id, pence)
WHERE m.contract_id = $1 AND m.metric_id = delta.metric_id;

-- name: allocation
SELECT allocation_id, allocation_type, recipient_id, value_pence, funded
FROM allocations WHERE place_id = $1 AND allocation_id = $2;

-- name: places_holding_allocation
-- Every place the service knows an allocation of this id in, to refuse a contract that names
-- another place's allocation.
SELECT place_id FROM allocations WHERE allocation_id = $1 ORDER BY place_id;

-- name: record_allocation_approved
INSERT INTO allocations (place_id, allocation_id, allocation_type, recipient_id, value_pence)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (place_id, allocation_id) DO UPDATE
SET allocation_type = excluded.allocation_type, recipient_id = excluded.recipient_id,
    value_pence = excluded.value_pence;

-- name: record_allocation_funded
INSERT INTO allocations (place_id, allocation_id, funded) VALUES ($1, $2, true)
ON CONFLICT (place_id, allocation_id) DO UPDATE SET funded = true;

-- name: batch
SELECT batch_id, status, amount_pence, payment_id, chunk_count, sample_size, provider_id
FROM batches WHERE contract_id = $1 AND batch_id = $2;

-- name: batch_by_payment
SELECT contract_id, batch_id, status, amount_pence
FROM batches WHERE payment_id = $1;

-- name: insert_batch
INSERT INTO batches (contract_id, batch_id, status, amount_pence, provider_id)
VALUES ($1, $2, 'receiving', 0, $3);

-- name: chunk_exists
SELECT EXISTS (
    SELECT 1 FROM batch_chunks WHERE contract_id = $1 AND batch_id = $2 AND chunk_index = $3
);

-- name: insert_chunk
INSERT INTO batch_chunks (contract_id, batch_id, chunk_index, claim_count, accepted_count)
VALUES ($1, $2, $3, $4, $5);

-- A chunk is stored: the batch's chunk count (set now when this chunk carries it) and how many
-- chunks it has received, in one round trip.
-- name: count_chunks
UPDATE batches SET chunk_count = coalesce($3, chunk_count)
WHERE contract_id = $1 AND batch_id = $2
RETURNING chunk_count,
          (SELECT count(*)::int FROM batch_chunks AS k
           WHERE k.contract_id = $1 AND k.batch_id = $2) AS received;

-- name: set_batch_status
UPDATE batches SET status = $3, amount_pence = $4, reason = $5
WHERE contract_id = $1 AND batch_id = $2;

-- name: set_batch_sample
UPDATE batches
SET status = 'awaiting_verification', sample_seed = $3, sample_share = $4, sample_size = $5
WHERE contract_id = $1 AND batch_id = $2;

-- name: hold_batch
UPDATE batches SET status = 'held', held_reasons = $3 WHERE contract_id = $1 AND batch_id = $2;

-- name: request_batch_payment
UPDATE batches SET status = 'payment_requested', amount_pence = $3, payment_id = $4
WHERE contract_id = $1 AND batch_id = $2;

-- name: batches_awaiting_funding
SELECT batch_id FROM batches WHERE contract_id = $1 AND status = 'awaiting_funding'
ORDER BY batch_id;

-- One primary-key lookup per incoming pair. The LIMIT keeps the planner from flattening the
-- subquery into a hash join over every claim of the place, which it picks when the table's
-- statistics lag behind a month-end upload (measured: 1.1 s a chunk at a million claims).
-- name: earlier_claims
SELECT incoming.participant_hash, incoming.metric_id, c.contract_id, c.batch_id, c.row_number,
       c.status, c.evidence_reference
FROM unnest($2::text[], $3::text[]) AS incoming(participant_hash, metric_id)
CROSS JOIN LATERAL (
    SELECT claims.contract_id, claims.batch_id, claims.row_number, claims.status,
           claims.evidence_reference
    FROM claims
    WHERE claims.place_id = $1
      AND claims.participant_hash = incoming.participant_hash
      AND claims.metric_id = incoming.metric_id
    LIMIT 1
) AS c;

-- name: archive_failed_claims
-- Claims that failed verification, resubmitted with new evidence in batch $2: each moves to
-- resubmitted_claims, so that its resubmission takes its place as the live claim.
WITH moved AS (
    DELETE FROM claims AS c
    USING unnest($3::text[], $4::text[]) AS k(participant_hash, metric_id)
    WHERE c.place_id = $1 AND c.participant_hash = k.participant_hash
      AND c.metric_id = k.metric_id AND c.status = 'failed_verification'
    RETURNING c.place_id, c.participant_hash, c.metric_id, c.contract_id, c.batch_id,
              c.achieved_on, c.evidence_reference, c.price_pence, c.row_number, c.status
)
INSERT INTO resubmitted_claims (place_id, participant_hash, metric_id, contract_id, batch_id,
                                achieved_on, evidence_reference, price_pence, row_number, status,
                                resubmitted_in_batch)
SELECT place_id, participant_hash, metric_id, contract_id, batch_id, achieved_on,
       evidence_reference, price_pence, row_number, status, $2
FROM moved;

-- name: batch_totals
SELECT count(*)::int AS claim_count, coalesce(sum(price_pence), 0)::bigint AS amount_pence
FROM claims WHERE contract_id = $1 AND batch_id = $2 AND status = 'pending';

-- The same, in the round trip that gives the completing transaction more memory for its sorts
-- (the uncorrelated subquery runs once, before the totals are read).
-- name: batch_totals_with_work_mem
SELECT (SELECT set_config('work_mem', $3, true)) AS work_mem,
       count(*)::int AS claim_count, coalesce(sum(price_pence), 0)::bigint AS amount_pence
FROM claims WHERE contract_id = $1 AND batch_id = $2 AND status = 'pending';

-- name: batch_rejection_reasons
SELECT reason FROM claim_rejections WHERE contract_id = $1 AND batch_id = $2
GROUP BY reason ORDER BY count(*) DESC, reason LIMIT $3;

-- The draw an auditor can repeat: order the batch's claims by md5(seed:participant:metric).
-- name: draw_sample
-- Read through a cursor a part at a time; ordered as the sample is announced: by row (a claim
-- sent without one first), then by participant and metric in code-point order ("C").
WITH drawn AS (
    SELECT place_id, participant_hash, metric_id
    FROM claims
    WHERE contract_id = $1 AND batch_id = $2 AND status = 'pending'
    ORDER BY md5($3 || ':' || participant_hash || ':' || metric_id)
    LIMIT $4
), marked AS (
    UPDATE claims AS c SET sampled = true
    FROM drawn AS d
    WHERE c.place_id = d.place_id AND c.participant_hash = d.participant_hash
      AND c.metric_id = d.metric_id
    RETURNING c.participant_hash, c.metric_id, c.evidence_reference, c.row_number
)
SELECT participant_hash, metric_id, evidence_reference, row_number
FROM marked
ORDER BY coalesce(row_number, 0), participant_hash COLLATE "C", metric_id COLLATE "C";

-- name: sampled_keys
SELECT c.participant_hash, c.metric_id
FROM unnest($3::text[], $4::text[]) AS d(participant_hash, metric_id)
JOIN claims AS c USING (participant_hash, metric_id)
WHERE c.contract_id = $1 AND c.batch_id = $2 AND c.sampled;

-- name: insert_decisions
INSERT INTO verification_decisions (contract_id, batch_id, participant_hash, metric_id,
                                    verifier_id, passed, reason)
SELECT $1, $2, d.participant_hash, d.metric_id, $3, d.passed, d.reason
FROM unnest($4::text[], $5::text[], $6::boolean[], $7::text[])
     AS d(participant_hash, metric_id, passed, reason);

-- name: sample_state
WITH latest AS (
    SELECT DISTINCT ON (participant_hash, metric_id) participant_hash, metric_id, passed, reason
    FROM verification_decisions
    WHERE contract_id = $1 AND batch_id = $2
    ORDER BY participant_hash, metric_id, decision_number DESC
)
SELECT count(*)::int AS decided,
       coalesce(array_agg(reason ORDER BY reason) FILTER (WHERE NOT passed), '{}') AS failures
FROM latest;

-- name: contract_verification_terms
SELECT coalesce(terms->>'verification_rule', 'hold') AS verification_rule,
       (terms->>'error_rate_threshold_basis_points')::int AS threshold_basis_points
FROM contracts WHERE contract_id = $1;

-- A batch's claims waiting for payment, its sample, and the sampled claims whose latest
-- decision failed: the figures a verification rule works on.
-- name: failed_sample
WITH latest AS (
    SELECT DISTINCT ON (participant_hash, metric_id) participant_hash, metric_id, passed
    FROM verification_decisions
    WHERE contract_id = $1 AND batch_id = $2
    ORDER BY participant_hash, metric_id, decision_number DESC
)
SELECT count(*)::int AS accepted_count,
       coalesce(sum(c.price_pence), 0)::bigint AS accepted_pence,
       coalesce(sum(c.price_pence) FILTER (WHERE c.sampled), 0)::bigint AS sample_pence,
       count(*) FILTER (WHERE NOT l.passed)::int AS failed_count,
       coalesce(sum(c.price_pence) FILTER (WHERE NOT l.passed), 0)::bigint AS failed_pence
FROM claims AS c
LEFT JOIN latest AS l ON l.participant_hash = c.participant_hash AND l.metric_id = c.metric_id
WHERE c.contract_id = $1 AND c.batch_id = $2 AND c.status = 'pending';

-- name: refuse_failed_sample_claims
WITH latest AS (
    SELECT DISTINCT ON (participant_hash, metric_id) participant_hash, metric_id, passed
    FROM verification_decisions
    WHERE contract_id = $1 AND batch_id = $2
    ORDER BY participant_hash, metric_id, decision_number DESC
)
UPDATE claims AS c SET status = 'failed_verification'
FROM latest AS l
WHERE c.contract_id = $1 AND c.batch_id = $2 AND c.status = 'pending'
  AND l.participant_hash = c.participant_hash AND l.metric_id = c.metric_id AND NOT l.passed
RETURNING c.metric_id, c.price_pence;

-- name: set_verification_outcome
UPDATE batches SET verification_outcome = $3::jsonb WHERE contract_id = $1 AND batch_id = $2;

-- name: verification_outcome
SELECT verification_outcome FROM batches WHERE contract_id = $1 AND batch_id = $2;

-- What a batch's claims waiting for payment claim from each payer (NULL: a metric naming none).
-- name: batch_pence_by_payer
SELECT m.payer_id, sum(c.price_pence)::bigint AS pence
FROM claims AS c
JOIN metric_prices AS m ON m.contract_id = c.contract_id AND m.metric_id = c.metric_id
WHERE c.contract_id = $1 AND c.batch_id = $2 AND c.status = 'pending'
GROUP BY m.payer_id;

-- name: remittance_lines
SELECT claim_period_id, metric_id, metric_version, count(*)::int AS outcome_count,
       sum(price_pence)::bigint AS amount_pence
FROM claims WHERE contract_id = $1 AND batch_id = $2 AND status = 'pending'
GROUP BY claim_period_id, metric_id, metric_version
ORDER BY claim_period_id NULLS FIRST, metric_id, metric_version;

-- name: mark_batch_paid
UPDATE batches SET status = 'paid', transfer_id = $3
WHERE contract_id = $1 AND batch_id = $2 AND status = 'payment_requested'
RETURNING amount_pence;

-- name: set_batch_claims_status
UPDATE claims SET status = $4
WHERE contract_id = $1 AND batch_id = $2 AND status = $3;

-- name: batch_committed_by_metric
SELECT metric_id, sum(price_pence)::bigint AS pence
FROM claims WHERE contract_id = $1 AND batch_id = $2 AND status = 'pending'
GROUP BY metric_id;

-- name: add_paid
UPDATE contracts SET paid_pence = paid_pence + $2 WHERE contract_id = $1;

-- name: mark_payment_rejected
UPDATE batches SET status = 'payment_rejected', reason = $2
WHERE payment_id = $1 AND status = 'payment_requested'
RETURNING contract_id, batch_id;

-- name: claim
SELECT c.place_id, c.participant_hash, c.metric_id, c.contract_id, c.batch_id, c.status,
       c.price_pence, c.claim_period_id, b.payment_id
FROM claims AS c
JOIN batches AS b ON b.contract_id = c.contract_id AND b.batch_id = c.batch_id
WHERE c.place_id = $1 AND c.participant_hash = $2 AND c.metric_id = $3;

-- name: set_claim_status
UPDATE claims SET status = $4 WHERE place_id = $1 AND participant_hash = $2 AND metric_id = $3;

-- name: clawback_exists
SELECT EXISTS (SELECT 1 FROM clawbacks WHERE contract_id = $1 AND clawback_id = $2);

-- name: insert_clawback
INSERT INTO clawbacks (recovery_id, clawback_id, contract_id, place_id, participant_hash,
                       metric_id, payment_id, amount_pence, reason, raised_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: settle_clawback
UPDATE clawbacks SET status = $2, ledger_reason = $3
WHERE recovery_id = $1 AND status = 'requested'
RETURNING clawback_id, contract_id, place_id, participant_hash, metric_id, amount_pence;

-- name: add_recovered
UPDATE contracts SET recovered_pence = recovered_pence + $2 WHERE contract_id = $1;

-- name: insert_referrals
WITH inserted AS (
    INSERT INTO referrals (contract_id, participant_hash, difficulty_segment, referred_on)
    SELECT $1, r.participant_hash, r.difficulty_segment, r.referred_on
    FROM unnest($2::text[], $3::text[], $4::date[])
         AS r(participant_hash, difficulty_segment, referred_on)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*)::int FROM inserted;

-- name: insert_engagements
WITH inserted AS (
    INSERT INTO engagements (contract_id, participant_hash, engaged_on)
    SELECT $1, e.participant_hash, e.engaged_on
    FROM unnest($2::text[], $3::date[]) AS e(participant_hash, engaged_on)
    WHERE EXISTS (
        SELECT 1 FROM referrals AS r
        WHERE r.contract_id = $1 AND r.participant_hash = e.participant_hash
    )
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*)::int FROM inserted;

-- referred = in referrals or claimed; engaged = in engagements or claimed; achieved = claimed.
-- name: funnel
WITH achieved AS (
    SELECT participant_hash, min(difficulty_segment) AS segment,
           bool_or(status IN ('paid', 'clawback_requested')) AS paid
    FROM claims
    WHERE contract_id = $1 AND status NOT IN ('payment_rejected', 'clawed_back')
    GROUP BY participant_hash
),
participants AS (
    SELECT coalesce(r.participant_hash, a.participant_hash) AS participant_hash,
           coalesce(r.difficulty_segment, a.segment) AS segment,
           a.participant_hash IS NOT NULL AS achieved,
           coalesce(a.paid, false) AS paid
    FROM (SELECT * FROM referrals WHERE contract_id = $1) AS r
    FULL JOIN achieved AS a ON a.participant_hash = r.participant_hash
)
SELECT p.segment,
       count(*)::int AS referred,
       count(*) FILTER (WHERE p.achieved OR e.participant_hash IS NOT NULL)::int AS engaged,
       count(*) FILTER (WHERE p.achieved)::int AS achieved,
       count(*) FILTER (WHERE p.paid)::int AS paid
FROM participants AS p
LEFT JOIN engagements AS e ON e.contract_id = $1 AND e.participant_hash = p.participant_hash
WHERE p.segment IS NOT NULL
GROUP BY p.segment
ORDER BY p.segment;

-- name: period_achievement_counts
SELECT p.claim_period_id, count(c.*)::int AS total,
       count(c.*) FILTER (WHERE p.ends_on - c.achieved_on < $2)::int AS late
FROM claim_periods AS p
JOIN claims AS c ON c.contract_id = p.contract_id AND c.claim_period_id = p.claim_period_id
WHERE p.contract_id = $1 AND c.status NOT IN ('payment_rejected', 'clawed_back')
GROUP BY p.claim_period_id;

-- name: insert_flag
INSERT INTO gaming_flags (contract_id, flag_kind, subject, detail) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING flag_kind;

-- name: open_book_exists
SELECT EXISTS (SELECT 1 FROM open_book_returns WHERE contract_id = $1 AND period_id = $2);

-- name: paid_in_period
SELECT coalesce(sum(price_pence), 0)::bigint FROM claims
WHERE contract_id = $1 AND status IN ('paid', 'clawback_requested')
  AND ($2::text IS NULL OR claim_period_id = $2);

-- name: insert_open_book
INSERT INTO open_book_returns (contract_id, period_id, cost_pence, surplus_or_loss_pence,
                               social_value_cost_pence, kpi_results, outcome_payments_pence)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7);

-- name: investor_flow_exists
SELECT EXISTS (SELECT 1 FROM investor_flows WHERE contract_id = $1 AND flow_id = $2);

-- name: insert_investor_flow
INSERT INTO investor_flows (contract_id, flow_id, investor_id, flow_kind, amount_pence,
                            occurred_on)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING flow_id;

-- name: claim_period_report
SELECT p.claim_period_id, p.planned_payment_pence,
       coalesce(sum(c.price_pence) FILTER (WHERE c.status IN ('paid', 'clawback_requested',
                                                                'clawed_back')), 0)::bigint
           AS paid_pence,
       coalesce(sum(c.price_pence) FILTER (WHERE c.status = 'clawed_back'), 0)::bigint
           AS recovered_pence
FROM claim_periods AS p
LEFT JOIN claims AS c ON c.contract_id = p.contract_id AND c.claim_period_id = p.claim_period_id
WHERE p.contract_id = $1
GROUP BY p.claim_period_id, p.planned_payment_pence, p.starts_on
ORDER BY p.starts_on;

-- name: statement_payments
SELECT batch_id, payment_id, amount_pence, transfer_id
FROM batches WHERE contract_id = $1 AND status = 'paid' ORDER BY batch_id;

-- name: statement_recoveries
SELECT clawback_id, recovery_id, payment_id, amount_pence, status, reason, ledger_reason
FROM clawbacks WHERE contract_id = $1 ORDER BY clawback_id;

-- name: contract_totals
SELECT paid_pence, recovered_pence FROM contracts WHERE contract_id = $1;

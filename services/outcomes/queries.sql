-- Named queries of the outcomes service.

-- name: contract_exists
SELECT EXISTS (SELECT 1 FROM contracts WHERE contract_id = $1);

-- name: insert_contract
INSERT INTO contracts (contract_id, place_id, allocation_id, provider_id, cap_pence)
VALUES ($1, $2, $3, $4, $5);

-- name: insert_metric_price
INSERT INTO metric_prices (contract_id, metric_id, price_pence) VALUES ($1, $2, $3);

-- name: lock_contract
SELECT contract_id, place_id, allocation_id, provider_id, cap_pence
FROM contracts WHERE contract_id = $1
FOR UPDATE;

-- name: requested_pence
SELECT coalesce(sum(amount_pence), 0)::bigint
FROM batches WHERE contract_id = $1 AND status IN ('payment_requested', 'paid');

-- name: metric_prices
SELECT metric_id, price_pence FROM metric_prices WHERE contract_id = $1;

-- name: batch_exists
SELECT EXISTS (SELECT 1 FROM batches WHERE contract_id = $1 AND batch_id = $2);

-- name: claimed_pairs
SELECT participant_hash, metric_id
FROM claims
WHERE place_id = $1
  AND (participant_hash, metric_id) IN (SELECT * FROM unnest($2::text[], $3::text[]));

-- name: insert_claim
INSERT INTO claims (place_id, participant_hash, metric_id, contract_id, batch_id, achieved_on,
                    evidence_reference, price_pence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: insert_batch
INSERT INTO batches (contract_id, batch_id, status, amount_pence, reason, payment_id)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: mark_batch_paid
UPDATE batches SET status = 'paid'
WHERE contract_id = $1 AND batch_id = $2 AND status = 'payment_requested'
RETURNING batch_id;

-- name: add_paid
UPDATE contracts SET paid_pence = paid_pence + $2 WHERE contract_id = $1;

-- name: mark_payment_rejected
UPDATE batches SET status = 'payment_rejected', reason = $2
WHERE payment_id = $1 AND status = 'payment_requested';

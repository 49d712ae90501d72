-- Named queries of the returns room: payments under contracts with when their claims arrived.

-- name: contract_payments
-- Payments made under a contract and paid in [$2, $3), each with the day its evidence batch
-- (its valid claim) was received. A payment kept before payment dates were recorded is dated
-- by when the gateway recorded it.
SELECT payment.payment_id, payment.contract_id, payment.provider_id, payment.amount_pence,
       payment.claim_batch_id, batch.received_at AS claim_received_at,
       coalesce(payment.paid_at, payment.recorded_at) AS paid_at
FROM payments AS payment
LEFT JOIN evidence_batches AS batch
       ON batch.place_id = payment.place_id AND batch.contract_id = payment.contract_id
      AND batch.batch_id = payment.claim_batch_id
WHERE payment.place_id = $1 AND payment.status = 'made' AND payment.contract_id IS NOT NULL
  AND coalesce(payment.paid_at, payment.recorded_at) >= $2
  AND coalesce(payment.paid_at, payment.recorded_at) < $3
ORDER BY 7, payment.payment_id
LIMIT $4;

-- name: registered_names
SELECT organisation_ref, name FROM organisations WHERE place_id = $1;

-- ---- The payments notices and their approval ------------------------------------------------

-- name: payment_notice
SELECT notice, financial_year, period, figures::text AS figures, figures_digest, approved_by,
       approved_at, published_at, command_id
FROM payment_notices
WHERE place_id = $1 AND notice = $2 AND financial_year = $3 AND period = $4;

-- name: payment_notices_of_place
SELECT notice, financial_year, period, figures_digest, approved_by, approved_at, published_at,
       command_id
FROM payment_notices WHERE place_id = $1
ORDER BY financial_year, period, notice
LIMIT $2;

-- name: approve_payment_notice
INSERT INTO payment_notices (place_id, notice, financial_year, period, figures, figures_digest,
                             approved_by, approved_at, published_at, command_id)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $8, $9);

-- name: command_done_here
-- A command the gateway decides itself (no service answers it) is done as it is accepted.
INSERT INTO command_outcomes (command_id, status, made, last_event_type, updated_at)
VALUES ($1, 'done', $2::jsonb, $3, $4);

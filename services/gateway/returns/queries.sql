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

-- Named queries of the insights room: it reads the gateway's read models (allocations,
-- contracts, payments, remittances, clawbacks, pot_streams, organisations) and writes only its
-- own place rules.

-- name: commitments
-- The place's allocations still binding or still to be decided, each with what it has paid
-- (payments made, net of what was recovered).
SELECT allocation.allocation_id, allocation.allocation_type, allocation.recipient_id,
       allocation.status, allocation.value_pence, allocation.start_date, allocation.end_date,
       coalesce((SELECT sum(payment.amount_pence - payment.recovered_pence)
                 FROM payments AS payment
                 WHERE payment.place_id = allocation.place_id
                   AND payment.allocation_id = allocation.allocation_id
                   AND payment.status = 'made'), 0)::bigint AS paid_pence
FROM allocations AS allocation
WHERE allocation.place_id = $1
  AND allocation.status IN ('funded', 'proposed', 'approved', 'awaiting_sign_off', 'signed_off')
ORDER BY allocation.allocation_id
LIMIT $2;

-- name: contracts
-- The place's registered contracts with their terms and what each has paid (net).
SELECT contract.contract_id, contract.allocation_id, contract.provider_id, contract.cap_pence,
       contract.prices::text AS prices, contract.terms::text AS terms,
       coalesce((SELECT sum(payment.amount_pence - payment.recovered_pence)
                 FROM payments AS payment
                 WHERE payment.place_id = contract.place_id
                   AND payment.contract_id = contract.contract_id
                   AND payment.status = 'made'), 0)::bigint AS paid_pence
FROM contracts AS contract
WHERE contract.place_id = $1
ORDER BY contract.contract_id
LIMIT $2;

-- name: paid_lines
-- What each contract paid by metric and claim period (remittance lines), less recoveries.
SELECT paid.contract_id, paid.metric_id, paid.claim_period_id,
       (paid.amount_pence - coalesce(recovered.recovered_pence, 0))::bigint AS paid_pence,
       paid.outcome_count
FROM (SELECT remittance.contract_id, line->>'metric_id' AS metric_id,
             line->>'claim_period_id' AS claim_period_id,
             sum((line->>'amount_pence')::bigint)::bigint AS amount_pence,
             sum((line->>'outcome_count')::bigint)::bigint AS outcome_count
      FROM remittances AS remittance, jsonb_array_elements(remittance.lines) AS line
      WHERE remittance.place_id = $1
      GROUP BY 1, 2, 3) AS paid
LEFT JOIN (SELECT contract_id, metric_id, claim_period_id,
                  sum(recovered_pence)::bigint AS recovered_pence
           FROM clawbacks WHERE place_id = $1 GROUP BY 1, 2, 3) AS recovered
       ON recovered.contract_id = paid.contract_id AND recovered.metric_id = paid.metric_id
      AND recovered.claim_period_id IS NOT DISTINCT FROM paid.claim_period_id
ORDER BY 1, 2, 3;

-- name: funding
-- The place's pot by financial year, summed over its streams.
SELECT financial_year, sum(settled_pence)::bigint AS settled_pence,
       sum(received_pence)::bigint AS received_pence, sum(paid_pence)::bigint AS paid_pence,
       sum(available_pence)::bigint AS available_pence
FROM pot_streams WHERE place_id = $1
GROUP BY financial_year ORDER BY financial_year;

-- name: place_rules
SELECT liability_test, provider_share_max_basis_points FROM insights_place_rules
WHERE place_id = $1;

-- name: set_place_rules
INSERT INTO insights_place_rules (place_id, liability_test, provider_share_max_basis_points,
                                  set_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id) DO UPDATE SET
    liability_test = EXCLUDED.liability_test,
    provider_share_max_basis_points = EXCLUDED.provider_share_max_basis_points,
    set_by = EXCLUDED.set_by, updated_at = now();

-- name: allocation_flows
-- What the pot committed to each provider by the allocation's financial year (funded
-- allocations, and those since expired; cancelled ones released their money).
SELECT recipient_id AS provider_id, financial_year, sum(value_pence)::bigint AS amount_pence
FROM allocations WHERE place_id = $1 AND status IN ('funded', 'expired')
GROUP BY 1, 2 ORDER BY 1, 2;

-- name: payment_flows
-- What each provider was paid (net of recoveries), by the UTC day it was paid.
SELECT provider_id, coalesce(paid_at, recorded_at)::date AS paid_on,
       (amount_pence - recovered_pence)::bigint AS amount_pence
FROM payments WHERE place_id = $1 AND status = 'made' AND provider_id <> ''
ORDER BY paid_on, payment_id
LIMIT $2;

-- name: provider_facts
SELECT organisation_ref, legal_form, is_sme, is_vcse FROM organisations
WHERE place_id = $1 AND kind = 'provider';

-- name: lock_unit_costs
-- One load of a place at a time, so two loads cannot take the same version number.
SELECT pg_advisory_xact_lock(hashtext('insights_unit_costs:' || $1));

-- name: next_unit_cost_version
SELECT coalesce(max(version), 0) + 1 AS version FROM insights_unit_costs WHERE place_id = $1;

-- name: insert_unit_cost
INSERT INTO insights_unit_costs (place_id, version, metric_id, beneficiary_agency,
                                 fiscal_saving_pence, public_value_pence, source, source_year,
                                 loaded_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: unit_costs
-- A version of the place's table (NULL: the latest).
SELECT version, metric_id, beneficiary_agency, fiscal_saving_pence, public_value_pence, source,
       source_year, loaded_at
FROM insights_unit_costs
WHERE place_id = $1
  AND version = coalesce($2, (SELECT max(version) FROM insights_unit_costs WHERE place_id = $1))
ORDER BY metric_id, beneficiary_agency;

-- name: outcomes_paid
-- Each contract's paid outcomes by metric: remittance lines less the claims clawed back and
-- recovered, with the pence paid for them net of recoveries; and the mission it serves.
SELECT paid.contract_id, coalesce(allocation.mission_id, '') AS mission_id, paid.metric_id,
       (paid.outcome_count - coalesce(recovered.claims, 0))::bigint AS outcome_count,
       (paid.amount_pence - coalesce(recovered.recovered_pence, 0))::bigint AS paid_pence,
       coalesce(recovered.recovered_pence, 0)::bigint AS recovered_pence
FROM (SELECT remittance.contract_id, line->>'metric_id' AS metric_id,
             sum((line->>'outcome_count')::bigint)::bigint AS outcome_count,
             sum((line->>'amount_pence')::bigint)::bigint AS amount_pence
      FROM remittances AS remittance, jsonb_array_elements(remittance.lines) AS line
      WHERE remittance.place_id = $1
      GROUP BY 1, 2) AS paid
JOIN contracts AS contract ON contract.place_id = $1 AND contract.contract_id = paid.contract_id
LEFT JOIN allocations AS allocation
       ON allocation.place_id = $1 AND allocation.allocation_id = contract.allocation_id
LEFT JOIN (SELECT contract_id, metric_id, count(*) FILTER (WHERE status = 'recovered') AS claims,
                  sum(recovered_pence)::bigint AS recovered_pence
           FROM clawbacks WHERE place_id = $1 GROUP BY 1, 2) AS recovered
       ON recovered.contract_id = paid.contract_id AND recovered.metric_id = paid.metric_id
ORDER BY 1, 3;

-- name: funded_purposes
-- What the pot committed, by allocation, with its purpose tags (funded and expired ones).
SELECT allocation_id, value_pence, purpose_tags::text AS purpose_tags
FROM allocations WHERE place_id = $1 AND status IN ('funded', 'expired')
ORDER BY allocation_id LIMIT $2;

-- name: evidence_to_payment_days
-- Days from each paid claim batch's arrival to its payment (UTC days).
SELECT (coalesce(payment.paid_at, payment.recorded_at)::date - batch.received_at::date) AS days
FROM payments AS payment
JOIN evidence_batches AS batch
  ON batch.place_id = payment.place_id AND batch.contract_id = payment.contract_id
 AND batch.batch_id = payment.claim_batch_id
WHERE payment.place_id = $1 AND payment.status = 'made' AND batch.received_at IS NOT NULL
ORDER BY 1 LIMIT $2;

-- name: place_known
SELECT EXISTS (SELECT 1 FROM pot_streams WHERE place_id = $1)
    OR EXISTS (SELECT 1 FROM allocations WHERE place_id = $1) AS known;

-- name: known_places
SELECT place_id FROM pot_streams UNION SELECT place_id FROM allocations ORDER BY 1 LIMIT $1;

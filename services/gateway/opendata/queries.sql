-- Read-only queries over the gateway's read models, for the open-data exports. Each is bounded
-- by a row limit ($2) so one request cannot read without end.

-- name: allocations
SELECT allocation_id, allocation_type, recipient_id, purpose, mission_id, start_date, end_date,
       value_pence, financial_year, status, funded_pence, updated_at, decided_at
FROM allocations WHERE place_id = $1 ORDER BY allocation_id LIMIT $2;

-- name: reservations
SELECT allocation_id, financial_year, amount_pence, released_pence, attribution::text AS attribution
FROM reservations WHERE place_id = $1 ORDER BY allocation_id LIMIT $2;

-- name: contracts
SELECT contract_id, allocation_id, provider_id, prices::text AS prices, cap_pence, registered_at,
       terms::text AS terms
FROM contracts WHERE place_id = $1 ORDER BY contract_id LIMIT $2;

-- name: paid_claim_periods
-- Which claim periods of each contract had outcomes paid, from the remittance advice lines.
SELECT DISTINCT r.contract_id, line ->> 'claim_period_id' AS claim_period_id
FROM remittances r, jsonb_array_elements(r.lines) AS line
WHERE r.place_id = $1 AND line ->> 'claim_period_id' IS NOT NULL
ORDER BY r.contract_id, claim_period_id LIMIT $2;

-- name: evidence_batches
SELECT contract_id, batch_id, status, claim_count, accepted_count, verified_count, amount_pence,
       updated_at
FROM evidence_batches WHERE place_id = $1 ORDER BY contract_id, batch_id LIMIT $2;

-- name: payments
SELECT payment_id, allocation_id, provider_id, contract_id, claim_batch_id, amount_pence,
       payment_kind, status, recovered_pence, recorded_at, paid_at
FROM payments WHERE place_id = $1 ORDER BY recorded_at, payment_id LIMIT $2;

-- name: recoveries
-- Settled clawbacks: the money recovered and when, never the clawback's free-text reason (it
-- may describe a person).
SELECT clawback_id, contract_id, payment_id, metric_id, claim_period_id,
       recovered_pence AS amount_pence, coalesce(settled_at, raised_at) AS settled_at
FROM clawbacks
WHERE place_id = $1 AND status = 'recovered' AND recovered_pence > 0
ORDER BY settled_at NULLS FIRST, contract_id, clawback_id LIMIT $2;

-- name: missions
-- The missions of the place's plans, by title: 360Giving's grant programmes.
SELECT mission_id, title FROM missions WHERE place_id = $1 ORDER BY mission_id LIMIT $2;

-- name: organisations
-- The place's organisations register (never who registered them).
SELECT organisation_ref, kind, name, legal_form, org_id_scheme, org_id_identifier, postcode,
       is_sme, is_vcse
FROM organisations WHERE place_id = $1 ORDER BY organisation_ref LIMIT $2;

-- name: register_organisation
-- Register an organisation, or replace what the register holds for it.
INSERT INTO organisations (place_id, organisation_ref, kind, name, legal_form, org_id_scheme,
                           org_id_identifier, postcode, is_sme, is_vcse, registered_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (place_id, organisation_ref) DO UPDATE SET
    kind = EXCLUDED.kind, name = EXCLUDED.name, legal_form = EXCLUDED.legal_form,
    org_id_scheme = EXCLUDED.org_id_scheme, org_id_identifier = EXCLUDED.org_id_identifier,
    postcode = EXCLUDED.postcode, is_sme = EXCLUDED.is_sme, is_vcse = EXCLUDED.is_vcse,
    registered_by = EXCLUDED.registered_by, updated_at = now();

-- name: place_known
-- Whether the gateway has heard of the place: a settlement, an allocation or a registration.
SELECT EXISTS (SELECT 1 FROM pot_streams WHERE place_id = $1)
    OR EXISTS (SELECT 1 FROM allocations WHERE place_id = $1)
    OR EXISTS (SELECT 1 FROM organisations WHERE place_id = $1) AS known;

-- name: publishing_places
-- Every place the gateway has heard of, with its combined authority if registered: the
-- catalogue of places.
SELECT p.place_id, o.name AS authority_name,
       o.org_id_scheme || '-' || o.org_id_identifier AS authority_org_id
FROM (SELECT place_id FROM pot_streams
      UNION SELECT place_id FROM allocations
      UNION SELECT place_id FROM organisations) AS p
LEFT JOIN organisations o
       ON o.place_id = p.place_id AND o.organisation_ref = p.place_id
      AND o.kind = 'combined_authority'
ORDER BY p.place_id LIMIT $1;

-- ---- OCDS release history (history.py) -------------------------------------------------------

-- name: allocation_of_contract
SELECT allocation_id FROM contracts WHERE place_id = $1 AND contract_id = $2;

-- name: allocation_of_payment
SELECT allocation_id FROM payments WHERE place_id = $1 AND payment_id = $2;

-- name: lock_release_history
-- One writer at a time per contracting process: the consumer and a request catching up.
SELECT pg_advisory_xact_lock(hashtextextended('ocds_releases/' || $1 || '/' || $2, 0));

-- name: release_caused_by
SELECT sequence FROM ocds_releases
WHERE place_id = $1 AND allocation_id = $2 AND caused_by = $3;

-- name: latest_release_before
-- The process's release in force at a moment (a replayed event compares with what was
-- published then, not since), else its latest.
SELECT sequence, released_at, content_sha256, release::text AS release
FROM ocds_releases
WHERE place_id = $1 AND allocation_id = $2 AND ($3::timestamptz IS NULL OR released_at <= $3)
ORDER BY released_at DESC, sequence DESC LIMIT 1;

-- name: next_release_sequence
SELECT coalesce(max(sequence), 0) + 1 FROM ocds_releases
WHERE place_id = $1 AND allocation_id = $2;

-- name: store_release
INSERT INTO ocds_releases (place_id, allocation_id, sequence, released_at, content_sha256,
                           release, caused_by)
VALUES ($1, $2, $3, $4, $5, $6::json, $7);

-- name: releases
SELECT allocation_id, sequence, released_at, release::text AS release
FROM ocds_releases WHERE place_id = $1
ORDER BY allocation_id, sequence LIMIT $2;

-- name: is_outcomes_contract
SELECT EXISTS (SELECT 1 FROM allocations
               WHERE place_id = $1 AND allocation_id = $2
                 AND allocation_type = 'outcomes_contract');

-- ---- OCDS releases at most once per interval per process (history_handlers.py) --------------

-- name: mark_releases_pending
-- Each changed process's latest change, waiting for its release ($5: now; a process new here is
-- due at once); returns whether each one's release is due. Marked in key order, so two fetches
-- marking the same processes lock their rows in the same order.
INSERT INTO ocds_release_marks (place_id, allocation_id, pending_event_id, pending_moment, due_at)
SELECT place_id, allocation_id, event_id, moment, $5
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[])
     AS change(place_id, allocation_id, event_id, moment)
ORDER BY place_id, allocation_id
ON CONFLICT (place_id, allocation_id) DO UPDATE
SET pending_event_id = EXCLUDED.pending_event_id, pending_moment = EXCLUDED.pending_moment
RETURNING place_id, allocation_id, due_at <= $5 AS due;

-- name: release_no_longer_waiting
-- The process's waiting change is released; its next release is due at $3 (NULL: unchanged).
UPDATE ocds_release_marks
SET pending_event_id = NULL, pending_moment = NULL, due_at = coalesce($3, due_at)
WHERE place_id = $1 AND allocation_id = $2;

-- name: claim_due_release
-- One process whose waiting release is due ($1: now), locked until the transaction ends; one
-- that another projector, or a fetch marking it, holds is skipped.
SELECT place_id, allocation_id, pending_event_id, pending_moment FROM ocds_release_marks
WHERE pending_event_id IS NOT NULL AND due_at <= $1
ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED;

-- name: waiting_releases_of_place
-- Every process of the place whose change waits for its release, locked (a request publishing
-- the place's releases keeps them first, waiting for a fetch that holds one).
SELECT place_id, allocation_id, pending_event_id, pending_moment FROM ocds_release_marks
WHERE place_id = $1 AND pending_event_id IS NOT NULL
ORDER BY allocation_id FOR UPDATE;

-- ---- One contracting process's rows, for its release (db.read_process_data) -------------------

-- name: allocation_of_process
SELECT allocation_id, allocation_type, recipient_id, purpose, mission_id, start_date, end_date,
       value_pence, financial_year, status, funded_pence, updated_at, decided_at
FROM allocations WHERE place_id = $1 AND allocation_id = $2;

-- name: reservation_of_process
SELECT allocation_id, financial_year, amount_pence, released_pence, attribution::text AS attribution
FROM reservations WHERE place_id = $1 AND allocation_id = $2;

-- name: contracts_of_process
SELECT contract_id, allocation_id, provider_id, prices::text AS prices, cap_pence, registered_at,
       terms::text AS terms
FROM contracts WHERE place_id = $1 AND allocation_id = $2 ORDER BY contract_id LIMIT $3;

-- name: paid_claim_periods_of_contracts
SELECT DISTINCT r.contract_id, line ->> 'claim_period_id' AS claim_period_id
FROM remittances r, jsonb_array_elements(r.lines) AS line
WHERE r.place_id = $1 AND r.contract_id = ANY($2::text[])
  AND line ->> 'claim_period_id' IS NOT NULL
ORDER BY r.contract_id, claim_period_id LIMIT $3;

-- name: evidence_batches_of_contracts
SELECT contract_id, batch_id, status, claim_count, accepted_count, verified_count, amount_pence,
       updated_at
FROM evidence_batches WHERE place_id = $1 AND contract_id = ANY($2::text[])
ORDER BY contract_id, batch_id LIMIT $3;

-- name: payments_of_process
SELECT payment_id, allocation_id, provider_id, contract_id, claim_batch_id, amount_pence,
       payment_kind, status, recovered_pence, recorded_at, paid_at
FROM payments WHERE place_id = $1 AND allocation_id = $2
ORDER BY recorded_at, payment_id LIMIT $3;

-- name: recoveries_of_contracts
SELECT clawback_id, contract_id, payment_id, metric_id, claim_period_id,
       recovered_pence AS amount_pence, coalesce(settled_at, raised_at) AS settled_at
FROM clawbacks
WHERE place_id = $1 AND contract_id = ANY($2::text[]) AND status = 'recovered'
  AND recovered_pence > 0
ORDER BY settled_at NULLS FIRST, contract_id, clawback_id LIMIT $3;

-- name: investor_flows_of_contracts
SELECT flow_id, contract_id, investor_id, flow_kind, amount_pence, occurred_on
FROM investor_flows WHERE place_id = $1 AND contract_id = ANY($2::text[])
ORDER BY contract_id, occurred_on, flow_id LIMIT $3;

-- ---- Investor flows (social impact bonds) ------------------------------------------------------

-- name: record_investor_flow
INSERT INTO investor_flows (place_id, flow_id, contract_id, investor_id, flow_kind, amount_pence,
                            occurred_on)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, flow_id) DO NOTHING;

-- name: investor_flows
SELECT flow_id, contract_id, investor_id, flow_kind, amount_pence, occurred_on
FROM investor_flows WHERE place_id = $1 ORDER BY contract_id, occurred_on, flow_id LIMIT $2;

-- ---- Outcome payers' shares (payer statements, INDIGO) ----------------------------------------

-- name: record_payer_shares
INSERT INTO payer_shares (place_id, entry_id, payer_id, payment_id, financial_year, amount_pence,
                          recorded_at)
-- A payment's year is its reservation's (the ledger draws it there); a recovery names its own.
SELECT $1, $2, payer_id, $3,
       coalesce($4, (SELECT r.financial_year FROM payments p
                     JOIN reservations r USING (place_id, allocation_id)
                     WHERE p.place_id = $1 AND p.payment_id = $3)),
       amount_pence, $6
FROM unnest($5::text[], $7::bigint[]) AS share(payer_id, amount_pence)
ON CONFLICT (place_id, entry_id, payer_id) DO NOTHING;

-- name: payer_statement_by_year
-- A payer's shares of payments (paid) and of recoveries (recovered, positive) per year.
SELECT coalesce(financial_year, 'unknown') AS financial_year,
       sum(amount_pence) FILTER (WHERE amount_pence > 0)::bigint AS paid_pence,
       coalesce(-sum(amount_pence) FILTER (WHERE amount_pence < 0), 0)::bigint AS recovered_pence
FROM payer_shares WHERE place_id = $1 AND payer_id = $2
GROUP BY 1 ORDER BY 1;

-- name: payer_shares_of_place
SELECT payer_id, payment_id, amount_pence FROM payer_shares
WHERE place_id = $1 ORDER BY payment_id, payer_id LIMIT $2;

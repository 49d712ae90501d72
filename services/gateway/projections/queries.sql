-- Named queries of the projections room: the read models kept from public events.

-- ---- Read models: the pot ---------------------------------------------------------------------

-- name: add_to_pot_streams
INSERT INTO pot_streams (place_id, financial_year, department_code, funding_stream_code,
                         settled_pence, received_pence, reserved_pence, paid_pence,
                         available_pence)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::bigint[], $9::bigint[])
ON CONFLICT (place_id, financial_year, department_code, funding_stream_code) DO UPDATE SET
    settled_pence = pot_streams.settled_pence + EXCLUDED.settled_pence,
    received_pence = pot_streams.received_pence + EXCLUDED.received_pence,
    reserved_pence = pot_streams.reserved_pence + EXCLUDED.reserved_pence,
    paid_pence = pot_streams.paid_pence + EXCLUDED.paid_pence,
    available_pence = pot_streams.available_pence + EXCLUDED.available_pence;

-- name: pot_for_place
SELECT financial_year, department_code, funding_stream_code, settled_pence, received_pence,
       reserved_pence, paid_pence, available_pence
FROM pot_streams WHERE place_id = $1
ORDER BY financial_year, department_code, funding_stream_code;

-- name: statements_for_place
SELECT s.financial_year,
       sum(s.settled_pence)::bigint AS settled_pence,
       sum(s.received_pence)::bigint AS received_pence,
       sum(s.reserved_pence)::bigint AS reserved_pence,
       sum(s.paid_pence)::bigint AS paid_pence,
       sum(s.available_pence)::bigint AS available_pence,
       EXISTS (SELECT 1 FROM closed_periods c
               WHERE c.place_id = $1 AND c.financial_year = s.financial_year) AS closed
FROM pot_streams s WHERE s.place_id = $1
GROUP BY s.financial_year ORDER BY s.financial_year;

-- name: close_period
INSERT INTO closed_periods (place_id, financial_year) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: insert_spends
INSERT INTO spend_records (spend_id, place_id, amount_pence, record, spent_at)
SELECT spend_id, place_id, amount_pence, record::jsonb, spent_at
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[])
    AS s(spend_id, place_id, amount_pence, record, spent_at)
ON CONFLICT (spend_id) DO NOTHING;

-- name: spend_for_place
SELECT record::text AS record FROM spend_records WHERE place_id = $1
ORDER BY received_at, spend_id LIMIT $2;

-- ---- Read models: allocations, reservations ---------------------------------------------------

-- name: insert_allocation
INSERT INTO allocations (place_id, allocation_id, allocation_type, recipient_id, purpose,
                         mission_id, start_date, end_date, value_pence, financial_year,
                         proposed_by, status, purpose_tags, proposed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'proposed', $12::jsonb, $13)
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
-- A further reservation for the allocation (varied up) adds to it; the first one's mix stays.
ON CONFLICT (place_id, allocation_id) DO UPDATE SET
    amount_pence = reservations.amount_pence + EXCLUDED.amount_pence;

-- name: release_reservation
UPDATE reservations SET released_pence = released_pence + $3
WHERE place_id = $1 AND allocation_id = $2
RETURNING financial_year, attribution::text AS attribution;

-- ---- Read models: contracts, evidence, payments -----------------------------------------------

-- name: insert_contract
INSERT INTO contracts (place_id, contract_id, allocation_id, provider_id, prices, cap_pence, terms)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb)
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
       verified_count, amount_pence, reasons::text AS reasons, sample_size, sample::text AS sample,
       verification_outcome::text AS verification_outcome
FROM evidence_batches WHERE place_id = $1 AND contract_id = $2 ORDER BY batch_id LIMIT $3;

-- name: set_verification_outcome
UPDATE evidence_batches SET verification_outcome = $4::jsonb, updated_at = now()
WHERE place_id = $1 AND contract_id = $2 AND batch_id = $3;

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

-- name: claim_inbox_batch
INSERT INTO inbox (consumer, event_id, event_type, outcome)
SELECT $1, event_id, event_type, 'processed'
FROM unnest($2::uuid[], $3::text[]) AS incoming(event_id, event_type)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id;

-- ---- Rebuilding the read models ---------------------------------------------------------------

-- name: truncate_read_models
-- The department feed and webhook deliveries are kept: their numbers are public (SSE event ids)
-- and a rebuild must not deliver spend to receivers again. Open data's marks of OCDS releases
-- waiting to be kept go (the replay marks its changes anew); the releases kept stay.
TRUNCATE pot_streams, spend_records, allocations, reservations, contracts, evidence_batches,
         payments, closed_periods, boards, decision_rules, interests, votes, board_decisions,
         sign_offs, command_refusals, earmarks, missions, claims, remittances, clawbacks,
         contract_funnel, contract_segment_funnel, evidence_claim_results, ocds_release_marks;

-- name: forget_inbox
DELETE FROM inbox WHERE consumer = $1;

-- ---- Web read models: recording (handlers) ----------------------------------------------------

-- name: set_allocation_approval
UPDATE allocations SET decision = 'approved', rules_version = $3, sign_off_required = $4,
       decided_at = $5
WHERE place_id = $1 AND allocation_id = $2;

-- name: set_allocation_rejection
UPDATE allocations SET decision = 'rejected', decision_reason = $3, decided_at = $4,
       rejection_rule = $5
WHERE place_id = $1 AND allocation_id = $2;

-- name: upsert_board
INSERT INTO boards (place_id, board_version, chair_id, chair_role, accounting_officer_id, members)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (place_id) DO UPDATE SET board_version = EXCLUDED.board_version,
    chair_id = EXCLUDED.chair_id, chair_role = EXCLUDED.chair_role,
    accounting_officer_id = EXCLUDED.accounting_officer_id, members = EXCLUDED.members
WHERE boards.board_version <= EXCLUDED.board_version;

-- name: upsert_decision_rules
INSERT INTO decision_rules (place_id, rules_version, quorum_members, majority,
                            sign_off_threshold_pence, claim_response_days)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (place_id) DO UPDATE SET rules_version = EXCLUDED.rules_version,
    quorum_members = EXCLUDED.quorum_members, majority = EXCLUDED.majority,
    sign_off_threshold_pence = EXCLUDED.sign_off_threshold_pence,
    claim_response_days = EXCLUDED.claim_response_days
WHERE decision_rules.rules_version <= EXCLUDED.rules_version;

-- name: insert_interest
INSERT INTO interests (place_id, interest_id, member_id, recipient_id, allocation_id, description)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (place_id, interest_id) DO NOTHING;

-- name: upsert_vote
INSERT INTO votes (place_id, allocation_id, variation_id, member_id, vote, rules_version, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, allocation_id, variation_id, member_id) DO UPDATE SET
    vote = EXCLUDED.vote, rules_version = EXCLUDED.rules_version, reason = EXCLUDED.reason;

-- name: insert_board_decision
INSERT INTO board_decisions (place_id, allocation_id, variation_id, outcome, rules_version,
                             votes_for, votes_against, abstentions, recused, reason, decided_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10, $11)
ON CONFLICT (place_id, allocation_id, variation_id) DO NOTHING;

-- name: insert_sign_off
INSERT INTO sign_offs (place_id, allocation_id, variation_id, state, accounting_officer_id,
                       reasons, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, allocation_id, variation_id) DO NOTHING;

-- name: insert_refusal
INSERT INTO command_refusals (place_id, event_id, command_type, subject_id, rule, reason,
                              refused_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, event_id) DO NOTHING;

-- name: upsert_earmark
INSERT INTO earmarks (place_id, earmark_id, kind, purpose_tag, minimum_share_basis_points,
                      department_code, funding_stream_code, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (place_id, earmark_id) DO UPDATE SET kind = EXCLUDED.kind,
    purpose_tag = EXCLUDED.purpose_tag,
    minimum_share_basis_points = EXCLUDED.minimum_share_basis_points,
    department_code = EXCLUDED.department_code, funding_stream_code = EXCLUDED.funding_stream_code,
    reason = EXCLUDED.reason;

-- name: upsert_missions
INSERT INTO missions (place_id, mission_id, plan_id, plan_title, spending_review_period, title,
                      metro_mission_id, national_mission_metrics)
SELECT $1, m.mission_id, $2, $3, $4, m.title, m.metro_mission_id, m.metrics::jsonb
FROM unnest($5::text[], $6::text[], $7::text[], $8::text[])
    AS m(mission_id, title, metro_mission_id, metrics)
ON CONFLICT (place_id, mission_id) DO UPDATE SET plan_id = EXCLUDED.plan_id,
    plan_title = EXCLUDED.plan_title, spending_review_period = EXCLUDED.spending_review_period,
    title = EXCLUDED.title, metro_mission_id = EXCLUDED.metro_mission_id,
    national_mission_metrics = EXCLUDED.national_mission_metrics;

-- name: insert_claim
INSERT INTO claims (place_id, claim_id, claim_kind, claimant_id, claimant_kind,
                    service_description, lodged_on, response_due_on)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (place_id, claim_id) DO NOTHING;

-- name: set_claim_response
UPDATE claims SET outcome = $3, reasons = $4, responded_by = $5, responded_on = $6, late = $7,
       response_due_on = $8
WHERE place_id = $1 AND claim_id = $2;

-- name: set_claim_overdue
UPDATE claims SET overdue_as_of = coalesce(overdue_as_of, $3)
WHERE place_id = $1 AND claim_id = $2;

-- name: insert_remittance
INSERT INTO remittances (place_id, payment_id, contract_id, batch_id, provider_id, amount_pence,
                         lines, transfer_id, advised_at, payer_shares)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb)
ON CONFLICT (place_id, payment_id) DO NOTHING;

-- name: insert_clawback
INSERT INTO clawbacks (place_id, contract_id, clawback_id, payment_id, metric_id,
                       claim_period_id, amount_pence, status, reason, raised_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'raised', $8, $9)
ON CONFLICT (place_id, contract_id, clawback_id) DO NOTHING;

-- name: settle_clawback
UPDATE clawbacks SET status = CASE WHEN $4 THEN 'recovered' ELSE 'refused' END,
       recovered_pence = CASE WHEN $4 THEN $5 ELSE 0 END,
       reason = coalesce($6, reason), settled_at = $7
WHERE place_id = $1 AND contract_id = $2 AND clawback_id = $3;

-- name: add_to_funnel
INSERT INTO contract_funnel (place_id, contract_id, referred_count, engaged_count)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, contract_id) DO UPDATE SET
    referred_count = contract_funnel.referred_count + EXCLUDED.referred_count,
    engaged_count = contract_funnel.engaged_count + EXCLUDED.engaged_count;

-- name: forget_segment_funnel
DELETE FROM contract_segment_funnel WHERE place_id = $1 AND contract_id = $2;

-- name: record_segment_funnel
INSERT INTO contract_segment_funnel
    (place_id, contract_id, segment, referred, engaged, achieved, paid)
SELECT $1, $2, s.segment, s.referred, s.engaged, s.achieved, s.paid
FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
    AS s(segment, referred, engaged, achieved, paid);

-- ---- Web read models: views (views.py) --------------------------------------------------------

-- name: pot_years
SELECT DISTINCT financial_year FROM pot_streams WHERE place_id = $1 ORDER BY financial_year;

-- name: pot_streams_in_year
SELECT department_code, funding_stream_code, settled_pence, received_pence, reserved_pence,
       paid_pence, available_pence
FROM pot_streams WHERE place_id = $1 AND financial_year = $2
ORDER BY department_code, funding_stream_code;

-- name: period_is_closed
SELECT EXISTS (SELECT 1 FROM closed_periods WHERE place_id = $1 AND financial_year = $2);

-- name: spend_by_month
-- Each department's shares of each spend, by the month (UK time) the ledger recorded it.
WITH shares AS (
    SELECT to_char(coalesce(s.spent_at, s.received_at) AT TIME ZONE 'Europe/London', 'YYYY-MM')
               AS month,
           share->>'department_code' AS department_code,
           (share->>'amount_pence')::bigint AS amount_pence
    FROM spend_records s, jsonb_array_elements(s.record->'attribution') AS share
    WHERE s.place_id = $1
), monthly AS (
    SELECT month, department_code, sum(amount_pence)::bigint AS spent_pence
    FROM shares WHERE $2::text IS NULL OR department_code = $2
    GROUP BY month, department_code
)
SELECT month, department_code, spent_pence,
       (sum(spent_pence) OVER (PARTITION BY department_code ORDER BY month))::bigint
           AS cumulative_pence
FROM monthly ORDER BY department_code, month;

-- name: board_allocations
SELECT allocation_id, status, status_reason, allocation_type, recipient_id, value_pence, purpose,
       purpose_tags::text AS purpose_tags, financial_year, start_date::text AS start_date,
       end_date::text AS end_date, proposed_by, proposed_at, mission_id, sign_off_required,
       rejection_rule, decision_reason, decided_at
FROM allocations WHERE place_id = $1 ORDER BY allocation_id;

-- name: votes_for_place
SELECT allocation_id, member_id, vote, rules_version, reason FROM votes
WHERE place_id = $1 AND variation_id = '' ORDER BY allocation_id, member_id;

-- name: board_decisions
SELECT allocation_id, outcome, rules_version, reason, decided_at, votes_for::text AS votes_for,
       votes_against::text AS votes_against, abstentions::text AS abstentions,
       recused::text AS recused
FROM board_decisions WHERE place_id = $1 AND variation_id = '';

-- name: sign_offs
SELECT allocation_id, state, accounting_officer_id, reasons, decided_at FROM sign_offs
WHERE place_id = $1 AND variation_id = '';

-- name: refusals_for_place
SELECT subject_id, command_type, rule, reason AS message, refused_at FROM command_refusals
WHERE place_id = $1 ORDER BY refused_at, event_id;

-- name: interests_for_place
SELECT interest_id, member_id, recipient_id, allocation_id, description FROM interests
WHERE place_id = $1 ORDER BY interest_id;

-- name: missions_for_place
SELECT mission_id, plan_id, plan_title, title, metro_mission_id FROM missions
WHERE place_id = $1 ORDER BY mission_id;

-- name: earmarks_for_place
SELECT earmark_id, kind, purpose_tag, minimum_share_basis_points, department_code,
       funding_stream_code, reason
FROM earmarks WHERE place_id = $1 ORDER BY earmark_id;

-- name: public_decisions
-- Board decisions with votes, and decisions taken without a board (no votes recorded).
SELECT a.allocation_id, nullif(d.variation_id, '') AS variation_id, a.purpose, a.recipient_id,
       a.allocation_type, a.value_pence, a.financial_year, a.status,
       d.outcome AS decision, d.reason, (d.decided_at AT TIME ZONE 'Europe/London')::date::text
           AS decided_on,
       d.rules_version, d.votes_for::text AS votes_for, d.votes_against::text AS votes_against,
       d.abstentions::text AS abstentions, d.recused::text AS recused, d.decided_at
FROM board_decisions d
JOIN allocations a ON a.place_id = d.place_id AND a.allocation_id = d.allocation_id
WHERE d.place_id = $1
UNION ALL
SELECT a.allocation_id, NULL, a.purpose, a.recipient_id, a.allocation_type, a.value_pence,
       a.financial_year, a.status, a.decision, a.decision_reason,
       (a.decided_at AT TIME ZONE 'Europe/London')::date::text, a.rules_version, '[]', '[]', '[]',
       '[]', a.decided_at
FROM allocations a
WHERE a.place_id = $1 AND a.decision IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM board_decisions d WHERE d.place_id = a.place_id
                  AND d.allocation_id = a.allocation_id AND d.variation_id = '')
ORDER BY decided_at DESC NULLS LAST, allocation_id, variation_id NULLS FIRST;

-- name: contracts_of_provider
SELECT contract_id, allocation_id, cap_pence, prices::text AS prices,
       terms->>'start_date' AS start_date, terms->>'end_date' AS end_date
FROM contracts WHERE place_id = $1 AND provider_id = $2 ORDER BY contract_id;

-- name: batches_of_provider
SELECT b.contract_id, b.batch_id, b.status, b.claim_count, b.accepted_count, b.rejected_count,
       b.verified_count, b.amount_pence, b.reasons::text AS reasons
FROM evidence_batches b
WHERE b.place_id = $1 AND (b.provider_id = $2 OR b.contract_id IN (
    SELECT c.contract_id FROM contracts c WHERE c.place_id = $1 AND c.provider_id = $2))
ORDER BY b.contract_id, b.batch_id;

-- name: remittances_of_provider
SELECT contract_id, batch_id, payment_id, amount_pence, transfer_id, advised_at,
       lines::text AS lines, payer_shares::text AS payer_shares
FROM remittances WHERE place_id = $1 AND provider_id = $2 ORDER BY advised_at, payment_id;

-- name: payments_of_provider
SELECT payment_id, allocation_id, contract_id, claim_batch_id, amount_pence, payment_kind, status,
       reason, recovered_pence
FROM payments WHERE place_id = $1 AND provider_id = $2 ORDER BY payment_id;

-- name: clawbacks_of_provider
SELECT k.contract_id, k.clawback_id, k.payment_id, k.metric_id, k.amount_pence, k.status,
       k.reason, k.recovered_pence
FROM clawbacks k JOIN contracts c ON c.place_id = k.place_id AND c.contract_id = k.contract_id
WHERE k.place_id = $1 AND c.provider_id = $2 ORDER BY k.contract_id, k.clawback_id;

-- name: verifier_queue
SELECT b.contract_id, b.batch_id, coalesce(nullif(b.provider_id, ''), c.provider_id, '')
           AS provider_id,
       b.claim_count, b.accepted_count, b.sample_size, b.sample::text AS sample
FROM evidence_batches b
LEFT JOIN contracts c ON c.place_id = b.place_id AND c.contract_id = b.contract_id
WHERE b.place_id = $1 AND b.status = 'awaiting_verification'
ORDER BY b.contract_id, b.batch_id;

-- name: contract_terms
SELECT contract_id, provider_id, cap_pence, prices::text AS prices, terms::text AS terms
FROM contracts WHERE place_id = $1 AND contract_id = $2;

-- name: metric_totals
SELECT line->>'metric_id' AS metric_id, sum((line->>'outcome_count')::bigint)::bigint
           AS outcome_count,
       sum((line->>'amount_pence')::bigint)::bigint AS amount_pence
FROM remittances r, jsonb_array_elements(r.lines) AS line
WHERE r.place_id = $1 AND r.contract_id = $2
GROUP BY line->>'metric_id';

-- name: metric_recoveries
SELECT metric_id, sum(recovered_pence)::bigint AS recovered_pence FROM clawbacks
WHERE place_id = $1 AND contract_id = $2 GROUP BY metric_id;

-- name: contract_funnel
SELECT coalesce((SELECT referred_count FROM contract_funnel
                 WHERE place_id = $1 AND contract_id = $2), 0)::bigint AS referred,
       coalesce((SELECT engaged_count FROM contract_funnel
                 WHERE place_id = $1 AND contract_id = $2), 0)::bigint AS engaged,
       coalesce((SELECT sum((line->>'outcome_count')::bigint)
                 FROM remittances r, jsonb_array_elements(r.lines) AS line
                 WHERE r.place_id = $1 AND r.contract_id = $2), 0)::bigint AS paid;

-- name: segment_funnel
SELECT segment, referred, engaged, achieved, paid
FROM contract_segment_funnel WHERE place_id = $1 AND contract_id = $2;

-- name: claims_for_place
SELECT claim_id, claim_kind, claimant_id, claimant_kind, service_description,
       lodged_on::text AS lodged_on, response_due_on::text AS response_due_on,
       CASE WHEN outcome IS NOT NULL THEN 'responded'
            WHEN overdue_as_of IS NOT NULL OR response_due_on < current_date THEN 'overdue'
            ELSE 'awaiting' END AS status,
       CASE WHEN outcome IS NOT NULL THEN coalesce(late, false)
            ELSE overdue_as_of IS NOT NULL OR response_due_on < current_date END AS overdue,
       outcome, reasons, responded_by, responded_on::text AS responded_on, late
FROM claims WHERE place_id = $1 ORDER BY lodged_on DESC, claim_id;

-- ---- Recoveries (clawbacks) as negative spend --------------------------------------------------

-- name: payment_for_recovery
-- What a department's view of a recovery repeats from the payment recovered: whom it paid, for
-- what, the streams' shares, and the year it was paid in (its reservation's) and whether that
-- year is now closed (the ledger then books the recovery in the next year).
SELECT p.allocation_id, p.provider_id, p.contract_id, p.payment_kind,
       p.attribution::text AS attribution, r.financial_year,
       EXISTS (SELECT 1 FROM closed_periods c
               WHERE c.place_id = p.place_id AND c.financial_year = r.financial_year)
           AS year_closed
FROM payments p
LEFT JOIN reservations r ON r.place_id = p.place_id AND r.allocation_id = p.allocation_id
WHERE p.place_id = $1 AND p.payment_id = $2 AND p.status = 'made';

-- ---- Reconciliation with the ledger -----------------------------------------------------------

-- name: reconcile_places
SELECT place_id FROM pot_streams
UNION SELECT place_id FROM reservations
UNION SELECT place_id FROM payments
ORDER BY place_id;

-- name: reconcile_allocations
-- What each allocation still has reserved: reserved, less released, less paid from it.
SELECT r.allocation_id,
       (r.amount_pence - r.released_pence
        - coalesce((SELECT sum(p.amount_pence) FROM payments p
                    WHERE p.place_id = r.place_id AND p.allocation_id = r.allocation_id
                      AND p.status = 'made'), 0))::bigint AS reserved_pence
FROM reservations r WHERE r.place_id = $1 ORDER BY r.allocation_id;

-- name: reconcile_providers
SELECT provider_id, sum(amount_pence - recovered_pence)::bigint AS net_pence
FROM payments WHERE place_id = $1 AND status = 'made'
GROUP BY provider_id ORDER BY provider_id;

-- name: reconcile_spend
-- The place's spend list per financial year (the recoveries booked in each year, which the
-- department feeds carry, are the delivery room's `recoveries_by_year`).
SELECT record->>'financial_year' AS financial_year, sum(amount_pence)::bigint AS net_pence
FROM spend_records WHERE place_id = $1
GROUP BY 1 ORDER BY 1;

-- name: spent_at_of
-- When each of these spends was recorded (the department feed's rows name their spend).
SELECT spend_id, spent_at FROM spend_records WHERE spend_id = ANY($1::text[]);

-- name: record_reconciliation_run
INSERT INTO reconciliation_runs (place_id, started_at, differences_count, accounts_checked)
VALUES ($1, $2, $3, $4);

-- name: latest_reconciliation_run
-- The last run that covered the place: one of it alone, or one of every place.
SELECT place_id, started_at, finished_at, differences_count, accounts_checked
FROM reconciliation_runs WHERE place_id IS NULL OR place_id = $1
ORDER BY finished_at DESC, run_id DESC LIMIT 1;

-- ---- Per-claim results of evidence batches ----------------------------------------------------

-- name: insert_claim_results
-- One part of a chunk's assessment; a part delivered again changes nothing.
INSERT INTO evidence_claim_results (place_id, contract_id, batch_id, chunk_index, position,
                                    row_number, participant_hash, metric_id, achieved_on, status,
                                    rule, reason, amount_pence, updated_at)
SELECT $1, $2, $3, $4, r.position, r.row_number, r.participant_hash, r.metric_id, r.achieved_on,
       r.status, r.rule, r.reason, r.amount_pence, $5
FROM unnest($6::integer[], $7::integer[], $8::text[], $9::text[], $10::date[], $11::text[],
            $12::text[], $13::text[], $14::bigint[])
     AS r(position, row_number, participant_hash, metric_id, achieved_on, status, rule, reason,
          amount_pence)
ON CONFLICT (contract_id, batch_id, chunk_index, position) DO NOTHING;

-- name: set_claims_status
-- Claims of a batch named by participant and metric move on (sampled, verified, failed); a
-- rejected claim stays rejected, and a claim never moves back from paid or clawed back.
UPDATE evidence_claim_results c
SET status = $4, rule = coalesce(p.rule, c.rule), reason = coalesce(p.reason, c.reason),
    updated_at = $5
FROM unnest($6::text[], $7::text[], $8::text[], $9::text[]) AS p(participant_hash, metric_id,
                                                                rule, reason)
WHERE c.place_id = $1 AND c.contract_id = $2 AND c.batch_id = $3
  AND c.participant_hash = p.participant_hash AND c.metric_id = p.metric_id
  AND c.status IN ('accepted', 'sampled', 'verified', 'failed_verification');

-- name: set_batch_claims_paid
-- A batch's payment was made: every claim it paid (not rejected, not failed) is paid.
UPDATE evidence_claim_results SET status = 'paid', updated_at = $4
WHERE place_id = $1 AND contract_id = $2 AND batch_id = $3
  AND status IN ('accepted', 'sampled', 'verified');

-- name: set_claim_clawed_back
UPDATE evidence_claim_results
SET status = 'clawed_back', rule = 'clawed_back', reason = $5, updated_at = $6
WHERE place_id = $1 AND contract_id = $2 AND participant_hash = $3 AND metric_id = $4
  AND status = 'paid';

-- name: claim_results_page
-- A page of a batch's claims in the order submitted, after a (chunk, position) cursor,
-- optionally of one status.
SELECT chunk_index, position, row_number, participant_hash, metric_id,
       achieved_on::text AS achieved_on, status, rule, reason, amount_pence
FROM evidence_claim_results
WHERE place_id = $1 AND contract_id = $2 AND batch_id = $3
  AND ($4::text IS NULL OR status = $4)
  AND (chunk_index, position) > ($5, $6)
ORDER BY chunk_index, position
LIMIT $7;

-- name: claim_results_summary
-- A batch's claims counted by status and rule, with one reason of each as an example.
SELECT status, rule, count(*) AS claims, coalesce(sum(amount_pence), 0) AS amount_pence,
       min(reason) AS example_reason
FROM evidence_claim_results
WHERE place_id = $1 AND contract_id = $2 AND batch_id = $3
GROUP BY status, rule
ORDER BY count(*) DESC, status, rule;

-- name: contract_metric_ids
-- The metrics a contract prices, to refuse an evidence row of any other at upload.
SELECT coalesce(array_agg(price ->> 'metric_id'), '{}'::text[]) AS metric_ids
FROM contracts, jsonb_array_elements(prices) AS price
WHERE place_id = $1 AND contract_id = $2;

-- name: allocations_with_id
-- Every place's allocation of this id, to check a command's reference to one early.
SELECT place_id, allocation_type, recipient_id FROM allocations
WHERE allocation_id = $1 ORDER BY place_id;

-- name: note_evidence_received
-- The first submission of a batch is when its valid claim was received; later events of the
-- same batch never move it.
UPDATE evidence_batches SET received_at = coalesce(received_at, $4)
WHERE place_id = $1 AND contract_id = $2 AND batch_id = $3;

-- name: note_payment_made
UPDATE payments SET paid_at = coalesce(paid_at, $3)
WHERE place_id = $1 AND payment_id = $2 AND status = 'made';

-- name: known_places
SELECT place_id FROM pot_streams
UNION
SELECT place_id FROM allocations
ORDER BY place_id;

-- name: allocation_for_round
-- One allocation's type, status and reserved money: what a participatory budgeting round
-- checks of the allocation that holds its budget (services/gateway/citizens/rounds.py).
SELECT allocation_id, allocation_type, status, funded_pence, value_pence
FROM allocations WHERE place_id = $1 AND allocation_id = $2;

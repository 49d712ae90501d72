-- Named queries of the allocations service.

-- name: ensure_place
INSERT INTO places (place_id) VALUES ($1) ON CONFLICT (place_id) DO NOTHING;

-- name: lock_place
-- Every command of a place takes this lock first, so rules that read the whole place (earmarks,
-- votes) see a settled picture even if two consumers briefly overlap in a rebalance.
SELECT place_id FROM places WHERE place_id = $1 FOR UPDATE;

-- name: current_board
SELECT document::text AS document FROM boards WHERE place_id = $1
ORDER BY version DESC LIMIT 1;

-- name: insert_board
INSERT INTO boards (place_id, version, document) VALUES ($1, $2, $3::jsonb);

-- name: current_rules
SELECT document::text AS document FROM decision_rules WHERE place_id = $1
ORDER BY version DESC LIMIT 1;

-- name: insert_rules
INSERT INTO decision_rules (place_id, version, document) VALUES ($1, $2, $3::jsonb);

-- name: mission_ids
SELECT mission_id FROM missions WHERE place_id = $1;

-- name: earmarks
SELECT document::text AS document FROM earmarks WHERE place_id = $1 ORDER BY earmark_id;

-- name: upsert_earmark
INSERT INTO earmarks (place_id, earmark_id, document) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (place_id, earmark_id) DO UPDATE SET document = EXCLUDED.document;

-- name: find_plan
SELECT document::text AS document FROM plans WHERE place_id = $1 AND plan_id = $2;

-- name: insert_plan
INSERT INTO plans (place_id, plan_id, document) VALUES ($1, $2, $3::jsonb);

-- name: insert_mission
INSERT INTO missions (place_id, mission_id, plan_id) VALUES ($1, $2, $3);

-- name: find_interest
SELECT document::text AS document FROM interests WHERE place_id = $1 AND interest_id = $2;

-- name: insert_interest
INSERT INTO interests (place_id, interest_id, member_id, recipient_id, allocation_id, document)
VALUES ($1, $2, $3, $4, $5, $6::jsonb);

-- name: interests_in
SELECT document::text AS document FROM interests
WHERE place_id = $1 AND (allocation_id = $2 OR recipient_id = $3);

-- name: add_settled
INSERT INTO settled_streams (place_id, financial_year, department_code, funding_stream_code,
                             settled_pence)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (place_id, financial_year, department_code, funding_stream_code)
DO UPDATE SET settled_pence = settled_streams.settled_pence + EXCLUDED.settled_pence;

-- name: settled_in_year
SELECT department_code, funding_stream_code, settled_pence
FROM settled_streams WHERE place_id = $1 AND financial_year = $2
ORDER BY department_code, funding_stream_code;

-- name: committed_in_year
SELECT allocation_id, counted_pence, purpose_tags
FROM allocations WHERE place_id = $1 AND financial_year = $2 AND counted_pence > 0;

-- name: lock_allocation
SELECT document::text AS document FROM allocations
WHERE place_id = $1 AND allocation_id = $2
FOR UPDATE;

-- name: upsert_allocation
INSERT INTO allocations (place_id, allocation_id, financial_year, status, value_pence, end_date,
                         purpose_tags, counted_pence, document)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (place_id, allocation_id) DO UPDATE SET
    status = EXCLUDED.status, value_pence = EXCLUDED.value_pence,
    end_date = EXCLUDED.end_date, purpose_tags = EXCLUDED.purpose_tags,
    counted_pence = EXCLUDED.counted_pence, document = EXCLUDED.document;

-- name: lock_due_allocations
-- Running allocations with something possibly due: past their end, or funded grants whose
-- next instalment may have fallen due or whose refused instalment may be retried (the domain
-- decides exactly).
SELECT document::text AS document FROM allocations
WHERE place_id = $1
  AND status IN ('proposed', 'awaiting_sign_off', 'reservation_requested', 'funded')
  AND (end_date < $2
       OR (status = 'funded' AND document -> 'instalments' @> '[{"status": "scheduled"}]')
       -- A refused instalment waiting for money to come back into the reservation.
       OR (status = 'funded' AND document -> 'instalments' @> '[{"awaiting_retry": true}]'))
ORDER BY allocation_id
FOR UPDATE;

-- name: find_vote
SELECT member_id, vote, rules_version FROM votes
WHERE place_id = $1 AND allocation_id = $2 AND variation_id = $3 AND member_id = $4;

-- name: insert_vote
INSERT INTO votes (place_id, allocation_id, variation_id, member_id, vote, rules_version, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: votes_on
SELECT member_id, vote, rules_version FROM votes
WHERE place_id = $1 AND allocation_id = $2 AND variation_id = $3 ORDER BY member_id;

-- name: lock_variation
SELECT document::text AS document FROM variations
WHERE place_id = $1 AND variation_id = $2 FOR UPDATE;

-- name: upsert_variation
INSERT INTO variations (place_id, variation_id, allocation_id, document)
VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (place_id, variation_id) DO UPDATE SET document = EXCLUDED.document;

-- name: insert_payment
INSERT INTO payments (place_id, payment_id, allocation_id, amount_pence)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, payment_id) DO NOTHING
RETURNING payment_id;

-- name: allocation_of_payment
SELECT allocation_id FROM payments WHERE place_id = $1 AND payment_id = $2;

-- name: lock_claim
SELECT document::text AS document FROM claims WHERE place_id = $1 AND claim_id = $2 FOR UPDATE;

-- name: upsert_claim
INSERT INTO claims (place_id, claim_id, status, response_due_on, document)
VALUES ($1, $2, $3, $4, $5::jsonb)
ON CONFLICT (place_id, claim_id) DO UPDATE SET
    status = EXCLUDED.status, document = EXCLUDED.document;

-- name: lock_overdue_claims
SELECT document::text AS document FROM claims
WHERE place_id = $1 AND status = 'open' AND response_due_on < $2
  AND NOT (document @> '{"overdue_flagged": true}')
ORDER BY claim_id
FOR UPDATE;

-- name: insert_release_request
INSERT INTO release_requests (place_id, request_event_id, allocation_id, amount_pence)
VALUES ($1, $2, $3, $4);

-- name: find_release_request
SELECT allocation_id, amount_pence FROM release_requests
WHERE place_id = $1 AND request_event_id = $2;

-- name: place_ids
SELECT place_id FROM places ORDER BY place_id;

-- --- Grant monitoring (issue 21): reports that hold instalments, claims paid in arrears ---

-- name: lock_grant_reporting
SELECT document::text AS document FROM grant_reporting
WHERE place_id = $1 AND allocation_id = $2
FOR UPDATE;

-- name: upsert_grant_reporting
INSERT INTO grant_reporting (place_id, allocation_id, document)
VALUES ($1, $2, $3::jsonb)
ON CONFLICT (place_id, allocation_id) DO UPDATE SET document = EXCLUDED.document;

-- name: paid_pence_of_payments
SELECT COALESCE(sum(amount_pence), 0)::bigint FROM payments
WHERE place_id = $1 AND payment_id = ANY($2::text[]);

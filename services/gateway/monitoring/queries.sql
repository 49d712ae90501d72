-- The grant monitoring room's queries (services/gateway/monitoring/db.py).

-- name: grant_of
-- A grant as the allocations read model has it (the gateway's projection of its events).
SELECT allocation_id, allocation_type, recipient_id, purpose, status, value_pence,
       funded_pence, start_date, end_date
FROM allocations WHERE place_id = $1 AND allocation_id = $2;

-- name: upsert_plan
INSERT INTO monitoring_plans (place_id, allocation_id, recipient_id, measures, schedule,
                              paid_in_arrears, set_by)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)
ON CONFLICT (place_id, allocation_id) DO UPDATE
SET measures = EXCLUDED.measures, schedule = EXCLUDED.schedule,
    paid_in_arrears = EXCLUDED.paid_in_arrears, set_by = EXCLUDED.set_by, updated_at = now();

-- name: plan_of
SELECT allocation_id, recipient_id, measures::text AS measures, schedule::text AS schedule,
       paid_in_arrears, set_by
FROM monitoring_plans WHERE place_id = $1 AND allocation_id = $2;

-- name: lock_plan
SELECT allocation_id FROM monitoring_plans WHERE place_id = $1 AND allocation_id = $2
FOR UPDATE;

-- name: reports_started
-- Reports already sent or reviewed: a schedule may not be set again once work has begun.
SELECT count(*) FROM monitoring_reports
WHERE place_id = $1 AND allocation_id = $2 AND status <> 'due';

-- name: delete_due_reports
DELETE FROM monitoring_reports WHERE place_id = $1 AND allocation_id = $2 AND status = 'due';

-- name: insert_report
INSERT INTO monitoring_reports (place_id, allocation_id, report_number, recipient_id, kind,
                                milestone, due_date)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: reports_of_grant
SELECT allocation_id, recipient_id, report_number, kind, milestone, due_date, status,
       figures::text AS figures, narrative, attachments::text AS attachments, submitted_by,
       submitted_at, reviewed_by, reviewed_at, review_note
FROM monitoring_reports WHERE place_id = $1 AND allocation_id = $2
ORDER BY report_number;

-- name: lock_report
SELECT status, recipient_id FROM monitoring_reports
WHERE place_id = $1 AND allocation_id = $2 AND report_number = $3
FOR UPDATE;

-- name: submit_report
UPDATE monitoring_reports
SET status = 'received', figures = $4::jsonb, narrative = $5, attachments = $6::jsonb,
    submitted_by = $7, submitted_at = now()
WHERE place_id = $1 AND allocation_id = $2 AND report_number = $3;

-- name: review_report
UPDATE monitoring_reports
SET status = $4, reviewed_by = $5, reviewed_at = now(), review_note = $6
WHERE place_id = $1 AND allocation_id = $2 AND report_number = $3;

-- name: reports_of_place
SELECT allocation_id, recipient_id, report_number, kind, milestone, due_date, status,
       figures::text AS figures, narrative, attachments::text AS attachments, submitted_by,
       submitted_at, reviewed_at, review_note
FROM monitoring_reports WHERE place_id = $1
ORDER BY recipient_id, allocation_id, report_number
LIMIT $2;

-- name: grants_of_recipient
SELECT a.allocation_id, a.purpose, a.status, a.value_pence, a.funded_pence,
       p.measures::text AS measures, p.paid_in_arrears
FROM monitoring_plans p
JOIN allocations a ON a.place_id = p.place_id AND a.allocation_id = p.allocation_id
WHERE p.place_id = $1 AND p.recipient_id = $2
ORDER BY a.allocation_id;

-- name: upsert_hold
INSERT INTO monitoring_holds (place_id, allocation_id, instalment_number, report_number,
                              amount_pence, reason, held_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, allocation_id, instalment_number) DO UPDATE
SET report_number = EXCLUDED.report_number, amount_pence = EXCLUDED.amount_pence,
    reason = EXCLUDED.reason, held_at = EXCLUDED.held_at, released_at = NULL, payment_id = NULL;

-- name: release_hold
UPDATE monitoring_holds SET released_at = $4, payment_id = $5
WHERE place_id = $1 AND allocation_id = $2 AND instalment_number = $3;

-- name: holds_of_place
SELECT h.allocation_id, a.recipient_id, h.instalment_number, h.report_number, h.amount_pence,
       h.reason, h.held_at, h.released_at
FROM monitoring_holds h
JOIN allocations a ON a.place_id = h.place_id AND a.allocation_id = h.allocation_id
WHERE h.place_id = $1 AND ($2::text IS NULL OR a.recipient_id = $2)
  AND ($3 OR h.released_at IS NULL)
ORDER BY h.allocation_id, h.instalment_number;

-- name: paid_pence_of_allocation
SELECT COALESCE(sum(amount_pence - recovered_pence), 0)::bigint FROM payments
WHERE place_id = $1 AND allocation_id = $2 AND status = 'made';

-- name: pending_claims_pence
-- Claims whose money is spoken for and not yet paid (`$3` leaves one claim out: its own).
SELECT COALESCE(sum(amount_pence), 0)::bigint FROM grant_claims
WHERE place_id = $1 AND allocation_id = $2 AND claim_id <> $3
  AND status IN ('submitted', 'programme_approved', 'approved', 'payment_requested');

-- name: lock_claim
SELECT claim_id, allocation_id, recipient_id, amount_pence, evidence, status
FROM grant_claims WHERE place_id = $1 AND claim_id = $2
FOR UPDATE;

-- name: upsert_claim
INSERT INTO grant_claims (place_id, claim_id, allocation_id, recipient_id, amount_pence,
                          evidence, status, submitted_by)
VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7)
ON CONFLICT (place_id, claim_id) DO UPDATE
SET amount_pence = EXCLUDED.amount_pence, evidence = EXCLUDED.evidence, status = 'submitted',
    submitted_by = EXCLUDED.submitted_by, submitted_at = now(), programme_by = NULL,
    programme_at = NULL, finance_by = NULL, finance_at = NULL;

-- name: programme_review_claim
UPDATE grant_claims SET status = $3, programme_by = $4, programme_at = now(), review_note = $5
WHERE place_id = $1 AND claim_id = $2;

-- name: finance_review_claim
UPDATE grant_claims
SET status = $3, finance_by = $4, finance_at = now(), review_note = $5, payment_id = $6,
    command_event_id = $7
WHERE place_id = $1 AND claim_id = $2;

-- name: claim_payment_requested
UPDATE grant_claims SET status = 'payment_requested', payment_id = $3
WHERE place_id = $1 AND claim_id = $2 AND status = 'approved';

-- name: claim_paid
UPDATE grant_claims SET status = 'paid'
WHERE place_id = $1 AND payment_id = $2 AND status IN ('approved', 'payment_requested');

-- name: claim_payment_refused
-- The ledger refused the claim's payment: nothing left the reservation, so it no longer counts.
UPDATE grant_claims SET status = 'refused', refusal = $3
WHERE place_id = $1 AND payment_id = $2 AND status = 'payment_requested';

-- name: claim_refused
UPDATE grant_claims SET status = 'refused', refusal = $3
WHERE place_id = $1 AND command_event_id = $2 AND status = 'approved';

-- name: claims_of_place
SELECT claim_id, allocation_id, recipient_id, amount_pence, evidence, status, submitted_by,
       submitted_at, programme_by, finance_by, review_note, refusal
FROM grant_claims WHERE place_id = $1 AND ($2::text IS NULL OR recipient_id = $2)
ORDER BY submitted_at DESC, claim_id
LIMIT $3;

-- --- Due diligence (migration 018) ---

-- name: organisation_registered
SELECT organisation_ref, org_id_scheme, org_id_identifier, legal_form, name
FROM organisations WHERE place_id = $1 AND organisation_ref = $2;

-- name: upsert_due_diligence
-- New facts need a new judgement: recording them again clears an override.
INSERT INTO organisation_due_diligence (place_id, organisation_ref, record, recorded_by)
VALUES ($1, $2, $3::jsonb, $4)
ON CONFLICT (place_id, organisation_ref) DO UPDATE
SET record = EXCLUDED.record, recorded_by = EXCLUDED.recorded_by, recorded_at = now(),
    override_by = NULL, override_reason = NULL, override_on = NULL;

-- name: log_due_diligence
INSERT INTO organisation_due_diligence_log (place_id, organisation_ref, entry, recorded_by)
VALUES ($1, $2, $3::jsonb, $4);

-- name: due_diligence_of
SELECT record::text AS record, recorded_by, recorded_at, override_by, override_reason,
       override_on
FROM organisation_due_diligence WHERE place_id = $1 AND organisation_ref = $2;

-- name: lock_due_diligence
SELECT organisation_ref FROM organisation_due_diligence
WHERE place_id = $1 AND organisation_ref = $2
FOR UPDATE;

-- name: override_due_diligence
UPDATE organisation_due_diligence
SET override_by = $3, override_reason = $4, override_on = $5
WHERE place_id = $1 AND organisation_ref = $2;

-- name: due_diligence_valid_days
SELECT valid_days FROM due_diligence_rules WHERE place_id = $1;

-- name: set_due_diligence_rules
INSERT INTO due_diligence_rules (place_id, valid_days, set_by) VALUES ($1, $2, $3)
ON CONFLICT (place_id) DO UPDATE
SET valid_days = EXCLUDED.valid_days, set_by = EXCLUDED.set_by, updated_at = now();

-- name: grants_of_recipient_any
-- Every grant of a recipient, monitored or not: a red rating holds them all.
SELECT allocation_id FROM allocations
WHERE place_id = $1 AND recipient_id = $2 AND allocation_type = 'grant'
ORDER BY allocation_id;

-- --- Duplicate funding ---

-- name: fundings
-- Allocations in the given statuses in every place, with the org-id the organisations register
-- gives their recipient (the id the 360Giving export publishes) and their stream mix.
SELECT a.place_id, a.allocation_id, a.recipient_id, a.purpose, a.mission_id, a.value_pence,
       a.status, o.org_id_scheme, o.org_id_identifier, o.name,
       r.attribution::text AS attribution
FROM allocations a
LEFT JOIN organisations o ON o.place_id = a.place_id AND o.organisation_ref = a.recipient_id
LEFT JOIN reservations r ON r.place_id = a.place_id AND r.allocation_id = a.allocation_id
WHERE a.status = ANY($1::text[])
ORDER BY a.place_id, a.allocation_id
LIMIT $2;

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
-- A command the gateway decides itself (no service answers it) is done as it is accepted;
-- decided_here keeps its outcome through a rebuild of the read models (no event refills it).
INSERT INTO command_outcomes (command_id, status, made, last_event_type, updated_at, decided_here)
VALUES ($1, 'done', $2::jsonb, $3, $4, true);

-- ---- Agreement of balances -------------------------------------------------------------------

-- name: balance_lines
-- Each department's streams in a year ($2 NULL: every department), with what was recovered
-- into each (the department feed's recoveries, negative shares of the recovered payments).
SELECT s.department_code, s.funding_stream_code, s.settled_pence AS committed_pence,
       s.received_pence, s.reserved_pence, s.paid_pence,
       coalesce(r.recovered_pence, 0)::bigint AS recovered_pence
FROM pot_streams s
LEFT JOIN (
    SELECT d.department_code, share ->> 'funding_stream_code' AS funding_stream_code,
           -sum((share ->> 'amount_pence')::bigint) AS recovered_pence
    FROM department_spend d, jsonb_array_elements(d.record -> 'attribution') AS share
    WHERE d.place_id = $1 AND d.record ->> 'financial_year' = $3
      AND d.record ->> 'kind' = 'recovery' AND ($2::text IS NULL OR d.department_code = $2)
    GROUP BY 1, 2
) r ON r.department_code = s.department_code AND r.funding_stream_code = s.funding_stream_code
WHERE s.place_id = $1 AND s.financial_year = $3 AND ($2::text IS NULL OR s.department_code = $2)
ORDER BY s.department_code, s.funding_stream_code
LIMIT $4;

-- name: balance_answers
-- The answers to a year's lines ($2 NULL: every department), oldest first, each with whether
-- a note resolved it.
SELECT a.answer_id, a.department_code, a.funding_stream_code, a.answer, a.figures::text AS figures,
       a.figures_digest, a.department_figures::text AS department_figures, a.note,
       a.answered_by, a.answered_at, a.command_id,
       EXISTS (SELECT 1 FROM balance_dispute_notes n
               WHERE n.answer_id = a.answer_id AND n.resolves) AS resolved
FROM balance_answers a
WHERE a.place_id = $1 AND a.financial_year = $3 AND ($2::text IS NULL OR a.department_code = $2)
ORDER BY a.answered_at, a.answer_id
LIMIT $4;

-- name: insert_balance_answer
INSERT INTO balance_answers (answer_id, place_id, department_code, financial_year,
                             funding_stream_code, answer, figures, figures_digest,
                             department_figures, note, answered_by, answered_at, command_id)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10, $11, $12, $13);

-- name: balance_dispute
SELECT a.answer_id, a.place_id, a.department_code, a.financial_year, a.funding_stream_code,
       a.answer, a.answered_by, a.answered_at,
       EXISTS (SELECT 1 FROM balance_dispute_notes n
               WHERE n.answer_id = a.answer_id AND n.resolves) AS resolved
FROM balance_answers a WHERE a.place_id = $1 AND a.answer_id = $2;

-- name: balance_disputes
-- The place's disputes, newest first, with whether each is resolved.
SELECT a.answer_id, a.department_code, a.financial_year, a.funding_stream_code,
       a.figures::text AS figures, a.department_figures::text AS department_figures, a.note,
       a.answered_by, a.answered_at,
       EXISTS (SELECT 1 FROM balance_dispute_notes n
               WHERE n.answer_id = a.answer_id AND n.resolves) AS resolved
FROM balance_answers a
WHERE a.place_id = $1 AND a.answer = 'disputed'
ORDER BY a.answered_at DESC, a.answer_id
LIMIT $2;

-- name: balance_dispute_notes
SELECT answer_id, note_number, note, resolves, written_by, written_at
FROM balance_dispute_notes WHERE answer_id = ANY($1::uuid[])
ORDER BY answer_id, note_number;

-- name: insert_balance_dispute_note
-- Numbered after the dispute's last note; the caller holds the dispute's row lock.
INSERT INTO balance_dispute_notes (answer_id, note_number, note, resolves, written_by,
                                   written_at, command_id)
SELECT $1, coalesce(max(note_number), 0) + 1, $2, $3, $4, $5, $6
FROM balance_dispute_notes WHERE answer_id = $1;

-- name: lock_balance_dispute
SELECT answer_id FROM balance_answers WHERE answer_id = $1 FOR UPDATE;

-- ---- Partner returns and the risk share -------------------------------------------------------

-- name: note_partner_receipt
INSERT INTO partner_receipts (place_id, receipt_id, financial_year, department_code,
                              funding_stream_code, amount_pence, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING;

-- name: note_risk_share
INSERT INTO risk_shares (place_id, financial_year, risk_share_id, rule, agreement_reference,
                         pool_borne_pence, partners, moves, transfer_id, applied_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10) ON CONFLICT DO NOTHING;

-- name: risk_share
SELECT risk_share_id, rule, agreement_reference, pool_borne_pence, partners::text AS partners,
       transfer_id, applied_at
FROM risk_shares WHERE place_id = $1 AND financial_year = $2;

-- name: partner_committed
-- Each partner's contribution to the year (settled), from the pot.
SELECT department_code, sum(settled_pence)::bigint AS committed_pence
FROM pot_streams WHERE place_id = $1 AND financial_year = $2
GROUP BY department_code ORDER BY department_code;

-- name: partner_income
-- Each partner's receipts into the pool for the year, received in [$3, $4).
SELECT department_code, sum(amount_pence)::bigint AS income_pence
FROM partner_receipts
WHERE place_id = $1 AND financial_year = $2 AND received_at >= $3 AND received_at < $4
GROUP BY department_code;

-- name: partner_spending
-- Each partner's share of the year's spend, less recoveries, dated in [$3, $4); the risk
-- share's adjustments are shown apart.
SELECT f.department_code, sum(f.amount_pence)::bigint AS spending_pence
FROM department_spend f LEFT JOIN spend_records s ON s.spend_id = f.spend_id
WHERE f.place_id = $1 AND f.record ->> 'financial_year' = $2
  AND coalesce(f.record ->> 'kind', 'spend') <> 'risk_share'
  AND coalesce(s.spent_at, (f.record ->> 'recovered_at')::timestamptz, f.received_at) >= $3
  AND coalesce(s.spent_at, (f.record ->> 'recovered_at')::timestamptz, f.received_at) < $4
GROUP BY f.department_code;

-- name: partner_narratives
-- The latest narrative per partner for a quarter.
SELECT DISTINCT ON (department_code) department_code, narrative, written_by, written_at
FROM partner_return_narratives
WHERE place_id = $1 AND financial_year = $2 AND quarter = $3
ORDER BY department_code, written_at DESC, command_id;

-- name: partner_narrative_quarters
SELECT quarter, array_agg(DISTINCT department_code) AS departments
FROM partner_return_narratives WHERE place_id = $1 AND financial_year = $2
GROUP BY quarter;

-- name: write_partner_narrative
INSERT INTO partner_return_narratives (place_id, financial_year, quarter, department_code,
                                       narrative, written_by, written_at, command_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- ---- VAT and merchant category on payments ----------------------------------------------------

-- name: payment_amount
SELECT amount_pence FROM payments WHERE place_id = $1 AND payment_id = $2;

-- name: record_payment_tax
INSERT INTO payment_tax_details (place_id, payment_id, irrecoverable_vat_pence,
                                 merchant_category, recorded_by, recorded_at, command_id)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: payment_tax_of_place
-- The latest VAT and merchant category recorded on each of the place's payments.
SELECT DISTINCT ON (payment_id) payment_id, irrecoverable_vat_pence, merchant_category
FROM payment_tax_details WHERE place_id = $1
ORDER BY payment_id, recorded_at DESC, command_id;

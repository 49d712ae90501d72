-- Named queries of the refused-work room: grant instalments the ledger refused.

-- name: instalment_refused
-- A refusal of an instalment's latest payment: it replaces what the row said before, unless a
-- later event (by occurrence) already moved the instalment on.
INSERT INTO refused_instalments (place_id, allocation_id, instalment_number, payment_id, status,
                                 rule, reason, amount_pence, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (place_id, allocation_id, instalment_number) DO UPDATE
SET payment_id = EXCLUDED.payment_id, status = EXCLUDED.status, rule = EXCLUDED.rule,
    reason = EXCLUDED.reason, amount_pence = coalesce(EXCLUDED.amount_pence,
                                                      refused_instalments.amount_pence),
    updated_at = EXCLUDED.updated_at
WHERE refused_instalments.updated_at <= EXCLUDED.updated_at;

-- name: refused_instalments
SELECT allocation_id, instalment_number, payment_id, status, rule, reason, amount_pence,
       updated_at
FROM refused_instalments
WHERE place_id = $1
ORDER BY status = 'needs_attention' DESC, updated_at DESC, allocation_id, instalment_number
LIMIT $2;

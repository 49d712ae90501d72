-- Named queries of the ledger service.

-- name: lock_chain_head
SELECT sequence, chain_hash FROM chain_heads WHERE place_id = $1 FOR UPDATE;

-- name: upsert_chain_head
INSERT INTO chain_heads (place_id, sequence, chain_hash) VALUES ($1, $2, $3)
ON CONFLICT (place_id) DO UPDATE SET sequence = EXCLUDED.sequence, chain_hash = EXCLUDED.chain_hash;

-- name: insert_transfer
INSERT INTO transfers (
    place_id, sequence, transfer_id, request_event_id, financial_year, iati_transaction_type,
    department_code, funding_stream_code, allocation_id, contract_id, claim_id, description,
    legs, previous_hash, chain_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15);

-- name: add_to_balance
-- An UPDATE, not an upsert: PostgreSQL checks CHECK constraints on the row an INSERT proposes
-- before ON CONFLICT applies, so a debit upsert would trip the never-negative check.
UPDATE balances SET balance_pence = balance_pence + $4
WHERE place_id = $1 AND financial_year = $2 AND account = $3;

-- name: open_balance
INSERT INTO balances (place_id, financial_year, account, department_code, funding_stream_code,
                      must_not_go_negative, balance_pence)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: lock_pot_mix
SELECT department_code, funding_stream_code, balance_pence
FROM balances
WHERE place_id = $1 AND financial_year = $2 AND starts_with(account, 'pot:') AND balance_pence > 0
ORDER BY department_code, funding_stream_code
FOR UPDATE;

-- name: lock_commitment_mix
SELECT department_code, funding_stream_code, balance_pence
FROM balances
WHERE place_id = $1 AND financial_year = $2 AND starts_with(account, 'commitment:' || $3 || ':')
  AND balance_pence > 0
ORDER BY department_code, funding_stream_code
FOR UPDATE;


-- name: insert_reservation
INSERT INTO reservations (place_id, allocation_id, financial_year, reserved_pence)
VALUES ($1, $2, $3, $4);

-- name: find_reservation
SELECT financial_year, reserved_pence FROM reservations WHERE place_id = $1 AND allocation_id = $2;

-- name: balances_for_place
SELECT financial_year, account, department_code, funding_stream_code, balance_pence
FROM balances WHERE place_id = $1 ORDER BY financial_year, account;

-- name: transfers_for_place
SELECT sequence, transfer_id, financial_year, iati_transaction_type, department_code,
       funding_stream_code, allocation_id, contract_id, claim_id, description,
       legs::text AS legs, previous_hash, chain_hash
FROM transfers WHERE place_id = $1 ORDER BY sequence;

-- Named queries of the ledger service. Loads take arrays so that a whole batch is read with a
-- handful of statements; writes are COPY or one multi-row statement per table.

-- name: open_chain_heads
INSERT INTO chain_heads (place_id, sequence, chain_hash)
SELECT place_id, 0, $2 FROM unnest($1::text[]) AS place_id
ON CONFLICT (place_id) DO NOTHING;

-- name: lock_chain_heads
-- Every post to a place extends its chain, so this lock serialises each place's posts (taken
-- in place order, so two batches never deadlock). The place's closed years come along, to
-- save the batch a round trip.
SELECT place_id, sequence, chain_hash,
       ARRAY(SELECT financial_year FROM closed_years
             WHERE closed_years.place_id = chain_heads.place_id) AS closed_years
FROM chain_heads
WHERE place_id = ANY($1::text[]) ORDER BY place_id FOR UPDATE OF chain_heads;

-- name: answered_requests
SELECT event_id, place_id, body_hash, answer_event_ids FROM answered_requests
WHERE event_id = ANY($1::uuid[]);

-- name: settlements
SELECT place_id, settlement_id, department_code, funding_stream_code FROM settlements
WHERE (place_id, settlement_id) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: used_ids
SELECT place_id, used_id FROM used_ids
WHERE (place_id, used_id) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: reservations
SELECT place_id, allocation_id, financial_year FROM reservations
WHERE (place_id, allocation_id) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: payments
SELECT place_id, payment_id, allocation_id, provider_id, financial_year, amount_pence,
       attribution::text AS attribution, recovered_pence, contract_id, payment_kind
FROM payments
WHERE (place_id, payment_id) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: stream_balances
-- The pot, settlement and received accounts of the given place-years: few, and all of them
-- are needed to know the pot's stream mix.
SELECT place_id, financial_year, account, balance_pence FROM balances
WHERE (place_id, financial_year) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  AND split_part(account, ':', 1) IN ('pot', 'settlement', 'received');

-- name: commitment_balances
SELECT place_id, financial_year, account, balance_pence FROM balances
WHERE (place_id, allocation_id) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: account_balances
SELECT place_id, financial_year, account, balance_pence FROM balances
WHERE (place_id, account) IN (SELECT * FROM unnest($1::text[], $2::text[]));

-- name: save_chain_heads_and_balances
-- Moves each place's chain head ($1-$3) and upserts the stored balances that changed ($4-$11,
-- arrays that may be empty) in one statement: one round trip per batch. New balances go by COPY.
WITH heads AS (
    UPDATE chain_heads SET sequence = new.sequence, chain_hash = new.chain_hash
    FROM unnest($1::text[], $2::bigint[], $3::text[]) AS new(place_id, sequence, chain_hash)
    WHERE chain_heads.place_id = new.place_id
)
INSERT INTO balances (place_id, financial_year, account, department_code, funding_stream_code,
                      allocation_id, must_not_go_negative, balance_pence)
SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::boolean[], $11::bigint[])
ON CONFLICT (place_id, financial_year, account)
DO UPDATE SET balance_pence = EXCLUDED.balance_pence;

-- name: save_payments
INSERT INTO payments (place_id, payment_id, allocation_id, provider_id, financial_year,
                      amount_pence, attribution, recovered_pence, contract_id, payment_kind)
SELECT place_id, payment_id, allocation_id, provider_id, financial_year, amount_pence,
       attribution::jsonb, recovered_pence, contract_id, payment_kind
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::bigint[], $9::text[], $10::text[])
     AS new(place_id, payment_id, allocation_id, provider_id, financial_year, amount_pence,
            attribution, recovered_pence, contract_id, payment_kind)
ON CONFLICT (place_id, payment_id) DO UPDATE SET recovered_pence = EXCLUDED.recovered_pence;

-- name: save_conflict
INSERT INTO conflicting_requests (event_id, body_hash, place_id, request_type)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING;

-- name: republish_answer
-- A repeated request gets its original answer: the same outbox rows, sent again.
UPDATE outbox SET published_at = NULL WHERE event_id = ANY($1::uuid[]);

-- name: balances_for_place
SELECT financial_year, account, department_code, funding_stream_code, allocation_id,
       balance_pence
FROM balances WHERE place_id = $1 ORDER BY financial_year, account;

-- name: transfers_for_place
SELECT place_id, sequence, transfer_id, request_event_id, financial_year,
       iati_transaction_type, department_code, funding_stream_code, allocation_id, contract_id,
       claim_id, description, legs::text AS legs, previous_hash, chain_hash
FROM transfers WHERE place_id = $1 ORDER BY sequence;

-- name: chain_summary
-- How many transfers a place's chain holds and the hash of its last one (NULL: none yet), for
-- the audit export's header before its transfers are streamed.
SELECT count(*)::bigint AS transfer_count,
       (SELECT chain_hash FROM transfers WHERE place_id = $1 ORDER BY sequence DESC LIMIT 1)
           AS head_hash
FROM transfers WHERE place_id = $1;

-- name: places
SELECT place_id FROM chain_heads ORDER BY place_id;

-- name: trial_balance
SELECT account, sum(balance_pence)::bigint AS balance_pence
FROM balances WHERE place_id = $1 AND financial_year = $2 AND balance_pence <> 0
GROUP BY account ORDER BY account;

-- name: stream_summary
-- By department stream and year: settled, received, unreserved (pot) and reserved.
SELECT financial_year, department_code, funding_stream_code,
       sum(balance_pence) FILTER (WHERE account LIKE 'pot:%')::bigint AS unreserved_pence,
       sum(balance_pence) FILTER (WHERE account LIKE 'commitment:%')::bigint AS reserved_pence,
       (-sum(balance_pence) FILTER (WHERE account LIKE 'received:%'))::bigint AS received_pence
FROM balances
WHERE place_id = $1 AND department_code IS NOT NULL
GROUP BY financial_year, department_code, funding_stream_code
ORDER BY financial_year, department_code, funding_stream_code;

-- name: transfers_touching
-- A statement: every transfer with a leg on an account matching the pattern, in order.
SELECT sequence, transfer_id, financial_year, iati_transaction_type, description,
       legs::text AS legs, posted_at
FROM transfers
-- (SQL/JSON's like_regex takes only a literal pattern, so the legs are matched with ~ instead.)
WHERE place_id = $1
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(legs) AS leg WHERE leg ->> 'account' ~ $2)
ORDER BY sequence;

-- name: recorded_position
-- The chain position a place's ledger had reached by $2 (exclusive, a timestamptz): the last
-- sequence before the first transfer recorded at or after it, so the answer is always a whole
-- prefix of the chain, which the audit export up to that sequence re-derives.
SELECT coalesce(
    (SELECT min(sequence) - 1 FROM transfers WHERE place_id = $1 AND posted_at >= $2),
    (SELECT max(sequence) FROM transfers WHERE place_id = $1),
    0)::bigint AS sequence;

-- name: head_position
SELECT coalesce(max(sequence), 0)::bigint AS sequence FROM transfers WHERE place_id = $1;

-- name: chain_hash_at
SELECT chain_hash FROM transfers WHERE place_id = $1 AND sequence = $2;

-- name: effective_later_than
-- Transfers up to a chain position whose money event happened after the date: left out of a
-- balance as at that effective date. A transfer without an effective date takes the day it
-- was recorded (UTC).
SELECT sequence FROM transfers
WHERE place_id = $1 AND sequence <= $2
  AND coalesce(effective_on, (posted_at AT TIME ZONE 'UTC')::date) > $3
ORDER BY sequence;

-- name: balances_from_legs
-- Credit-positive balances per financial year and account, summed from the legs of the
-- transfers up to a chain position ($2) except the sequences $3, plus the sequences $4.
SELECT transfer.financial_year, leg ->> 'account' AS account,
       sum(CASE WHEN leg ->> 'direction' = 'credit' THEN (leg ->> 'amount_pence')::bigint
                ELSE -(leg ->> 'amount_pence')::bigint END)::bigint AS balance_pence
FROM transfers AS transfer, jsonb_array_elements(transfer.legs) AS leg
WHERE transfer.place_id = $1
  AND ((transfer.sequence <= $2 AND NOT (transfer.sequence = ANY($3::bigint[])))
       OR transfer.sequence = ANY($4::bigint[]))
GROUP BY transfer.financial_year, leg ->> 'account'
ORDER BY transfer.financial_year, leg ->> 'account';

-- name: effective_by_recorded_after
-- Transfers recorded after a chain position ($2) up to another ($3) whose money event happened
-- by the date: added to a balance as at that effective date.
SELECT sequence FROM transfers
WHERE place_id = $1 AND sequence > $2 AND sequence <= $3
  AND coalesce(effective_on, (posted_at AT TIME ZONE 'UTC')::date) <= $4
ORDER BY sequence;

-- name: transfers_up_to
SELECT place_id, sequence, transfer_id, request_event_id, financial_year,
       iati_transaction_type, department_code, funding_stream_code, allocation_id, contract_id,
       claim_id, description, legs::text AS legs, previous_hash, chain_hash
FROM transfers WHERE place_id = $1 AND sequence <= $2 ORDER BY sequence;

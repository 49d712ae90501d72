-- Named queries of the gateway service.

-- name: add_to_pot_stream
INSERT INTO pot_streams (place_id, financial_year, department_code, funding_stream_code,
                         settled_pence, reserved_pence, paid_pence)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (place_id, financial_year, department_code, funding_stream_code) DO UPDATE SET
    settled_pence = pot_streams.settled_pence + EXCLUDED.settled_pence,
    reserved_pence = pot_streams.reserved_pence + EXCLUDED.reserved_pence,
    paid_pence = pot_streams.paid_pence + EXCLUDED.paid_pence;

-- name: pot_for_place
SELECT financial_year, department_code, funding_stream_code, settled_pence, reserved_pence,
       paid_pence
FROM pot_streams WHERE place_id = $1
ORDER BY financial_year, department_code, funding_stream_code;

-- name: insert_spend
INSERT INTO spend_records (spend_id, place_id, amount_pence, record)
VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (spend_id) DO NOTHING;

-- name: spend_for_place
SELECT record::text AS record FROM spend_records WHERE place_id = $1
ORDER BY received_at, spend_id LIMIT $2;

-- Named queries of the allocations service.

-- name: lock_allocation
SELECT place_id, allocation_id, allocation_type, recipient_id, purpose, mission_id, start_date,
       end_date, value_pence, financial_year, proposed_by, status
FROM allocations WHERE place_id = $1 AND allocation_id = $2
FOR UPDATE;

-- name: insert_allocation
INSERT INTO allocations (
    place_id, allocation_id, allocation_type, recipient_id, purpose, mission_id, start_date,
    end_date, value_pence, financial_year, proposed_by, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'proposed');

-- name: record_decision
UPDATE allocations SET status = $3, decided_by = $4, status_reason = $5
WHERE place_id = $1 AND allocation_id = $2;

-- name: set_status
UPDATE allocations SET status = $3, status_reason = $4
WHERE place_id = $1 AND allocation_id = $2;

-- name: add_settled
INSERT INTO place_streams (place_id, department_code, funding_stream_code, settled_pence)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, department_code, funding_stream_code)
DO UPDATE SET settled_pence = place_streams.settled_pence + EXCLUDED.settled_pence;

-- name: streams_for_place
SELECT department_code, funding_stream_code, settled_pence
FROM place_streams WHERE place_id = $1 ORDER BY department_code, funding_stream_code;

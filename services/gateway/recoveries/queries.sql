-- Recoveries in the totals (services/gateway/recoveries/db.py).

-- name: recovered_by_department
-- What was recovered of payments per department in a financial year: the recoveries' negative
-- rows of the department feed, in the year the ledger booked each recovery.
SELECT department_code, (-sum(amount_pence))::bigint AS recovered_pence
FROM department_spend
WHERE place_id = $1 AND amount_pence < 0 AND record ->> 'financial_year' = $2
GROUP BY department_code ORDER BY department_code;

-- name: spend_by_month_net
-- Each department's spend by month (UK time) net of recoveries: the shares of each spend (as
-- the gateway's spend_by_month has them) and each recovery's negative share from the department
-- feed, in the month the ledger recorded it; cumulative per department.
WITH shares AS (
    SELECT coalesce(s.spent_at, s.received_at) AS moment,
           share->>'department_code' AS department_code,
           (share->>'amount_pence')::bigint AS amount_pence
    FROM spend_records s, jsonb_array_elements(s.record->'attribution') AS share
    WHERE s.place_id = $1
    UNION ALL
    SELECT coalesce((d.record->>'recovered_at')::timestamptz, d.received_at), d.department_code,
           d.amount_pence
    FROM department_spend d
    WHERE d.place_id = $1 AND d.amount_pence < 0
), monthly AS (
    SELECT to_char(moment AT TIME ZONE 'Europe/London', 'YYYY-MM') AS month, department_code,
           sum(amount_pence)::bigint AS spent_pence
    FROM shares WHERE $2::text IS NULL OR department_code = $2
    GROUP BY 1, 2
)
SELECT month, department_code, spent_pence,
       (sum(spent_pence) OVER (PARTITION BY department_code ORDER BY month))::bigint
           AS cumulative_pence
FROM monthly ORDER BY department_code, month;

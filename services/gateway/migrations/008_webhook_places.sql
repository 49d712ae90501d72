-- A webhook delivers only the spend of the places its registering grant covers: `place_ids` are
-- those places, NULL for a national grant (`department@*:CODE`, every place).
ALTER TABLE webhook_subscriptions ADD COLUMN place_ids text[];
-- Subscriptions made before this migration get the places their maker's department grants
-- cover now; a maker with no such grant left gets none (its webhook then delivers nothing).
UPDATE webhook_subscriptions s SET place_ids = CASE
    WHEN '*' = ANY(granted.places) THEN NULL
    ELSE coalesce(granted.places, '{}')
END
FROM (
    SELECT s2.subscription_id,
           (SELECT array_agg(DISTINCT g.place_id ORDER BY g.place_id) FROM grants g
            WHERE g.principal_id = s2.created_by AND g.role = 'department'
              AND g.subject_id = s2.department_code) AS places
    FROM webhook_subscriptions s2
) granted
WHERE granted.subscription_id = s.subscription_id;

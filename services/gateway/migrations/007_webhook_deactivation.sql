-- A department can stop a webhook: the subscription records when and by whom, and its deliveries
-- that were still pending become 'cancelled' (kept in the delivery log, never deleted).
ALTER TABLE webhook_subscriptions
    ADD COLUMN deactivated_at timestamptz,
    ADD COLUMN deactivated_by text;
-- No endpoint stopped a subscription before this migration, but a hand-made change might have.
UPDATE webhook_subscriptions SET deactivated_at = now(), deactivated_by = 'before-migration-007'
WHERE NOT active;
ALTER TABLE webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_deactivation_recorded
        CHECK (active = (deactivated_at IS NULL) AND active = (deactivated_by IS NULL));

ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_status_check,
    ADD CONSTRAINT webhook_deliveries_status_check
        CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));

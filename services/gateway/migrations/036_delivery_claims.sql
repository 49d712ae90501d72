-- Webhook deliveries are claimed, not held locked, while they are posted (services/gateway/
-- delivery/webhooks.py): a claim moves the delivery's next attempt past the POST's timeout and
-- records who holds it, so no other process posts it meanwhile, a delivery whose process died
-- mid-POST falls due again by itself, and an outcome counts only while its claim is held.
-- claim_id is set while a claim is held (cleared with the outcome); claimed_by and claimed_at
-- say which process claimed the delivery last, and when.
ALTER TABLE webhook_deliveries
    ADD COLUMN claim_id   uuid,
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_at timestamptz;

-- Each subscription's due deliveries in order: a claim takes at most a few of each, so one
-- slow receiver's backlog never fills every slot.
CREATE INDEX webhook_deliveries_due_by_subscription
    ON webhook_deliveries (subscription_id, next_attempt_at, delivery_id)
    WHERE status = 'pending';

-- The deliveries being posted now (or whose process died posting them), counted per
-- subscription against its share.
CREATE INDEX webhook_deliveries_claimed
    ON webhook_deliveries (subscription_id)
    WHERE status = 'pending' AND claim_id IS NOT NULL;

-- Wakes the delivery loop as soon as a transaction that queued webhook deliveries commits
-- (PostgreSQL delivers a NOTIFY only then), instead of at its next poll; the loop may run in
-- another process than the projector that queues them. Only a statement that queued at least
-- one delivery notifies (a spend no webhook covers queues none).
CREATE FUNCTION notify_webhook_deliveries_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM queued) THEN
        PERFORM pg_notify('webhook_deliveries_queued_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_queued AFTER INSERT ON webhook_deliveries
    REFERENCING NEW TABLE AS queued
    FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_deliveries_queued();

-- Wakes the schema's active outbox relay as soon as a transaction that wrote outbox rows
-- commits (PostgreSQL delivers a NOTIFY only then), instead of at its next poll. The channel
-- carries the schema's name, so one service's writes wake only its own relay. Statement-level:
-- one notification per INSERT or COPY however many rows it wrote, and PostgreSQL folds a
-- transaction's repeats of one notification into one.
CREATE FUNCTION notify_outbox_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_written_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_written AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox_written();

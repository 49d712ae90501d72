-- TRUNCATE fires no row trigger, so the immutability trigger of 001 did not cover it: one
-- statement-level trigger refuses it too (issue 14). The same function, the same message.
CREATE TRIGGER transfers_are_not_truncated BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_transfer_change();

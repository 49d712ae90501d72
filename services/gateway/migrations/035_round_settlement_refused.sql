-- A participatory budgeting round whose settlement the allocations service refused
-- (CommandRefused for SettleParticipatoryRound, caused by the round's settle_event_id): the
-- rule and reason are kept on the round so its public page can say so.
ALTER TABLE citizens_pb_rounds
    ADD COLUMN settle_refused_rule   text,
    ADD COLUMN settle_refused_reason text,
    ADD COLUMN settle_refused_at     timestamptz;

-- When each transfer's money event happened (its effective date), kept apart from when the
-- ledger recorded it (posted_at). Rows posted before this migration have NULL: their effective
-- date is the day they were recorded (UTC), read through coalesce, because transfers are
-- immutable and are never updated to fill the column in.
ALTER TABLE transfers ADD COLUMN effective_on date;
CREATE INDEX transfers_by_posted_at ON transfers (place_id, posted_at);

-- When each clawback was raised and when the ledger settled it (the envelopes' occurred_at), so
-- the open data can date a recovery and a rebuild of the read models leaves the dates where
-- they were. Rows kept before this migration have no dates; the exports fall back to the
-- payment's date for them.
ALTER TABLE clawbacks ADD COLUMN raised_at timestamptz;
ALTER TABLE clawbacks ADD COLUMN settled_at timestamptz;

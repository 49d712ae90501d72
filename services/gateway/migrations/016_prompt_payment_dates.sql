-- When a valid claim (an evidence batch) was received and when a payment was made, from the
-- envelopes' occurred_at, for the prompt-payment figures (Procurement Act 2023, ss. 68-70).
-- Rows kept before this migration have neither; the figures count such payments apart.
ALTER TABLE evidence_batches ADD COLUMN received_at timestamptz;
ALTER TABLE payments ADD COLUMN paid_at timestamptz;

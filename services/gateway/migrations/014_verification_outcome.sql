-- What a contract's verification rule decided for a batch whose sample failed (issue 19):
-- the rule, paid or rejected, the payable amount, the reason and every figure, for the provider.
ALTER TABLE evidence_batches ADD COLUMN verification_outcome jsonb;

-- Verification rules per contract (issue 19): a failed sampled claim is refused on its own
-- (failed_verification) while the rest of its batch is paid, a batch the rule rejects keeps its
-- claims as verification_rejected, and the rule's decision with every figure stays on the batch.
ALTER TABLE claims DROP CONSTRAINT claims_status_check;
ALTER TABLE claims
    ADD CONSTRAINT claims_status_check CHECK (status IN (
        'pending', 'paid', 'payment_rejected', 'clawback_requested', 'clawed_back',
        'failed_verification', 'verification_rejected'));

ALTER TABLE batches ADD COLUMN verification_outcome jsonb;

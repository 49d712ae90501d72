-- Every claim of every evidence batch and where it stands, as the outcomes service announces
-- it (ClaimResultsRecorded in parts, then sampling, verification, payment and clawback), so a
-- provider reads each claim's result and reason, however large the batch.
CREATE TABLE evidence_claim_results (
    place_id          text        NOT NULL,
    contract_id       text        NOT NULL,
    batch_id          text        NOT NULL,
    -- The claim's place in the batch: its chunk and its position in that chunk.
    chunk_index       integer     NOT NULL,
    position          integer     NOT NULL,
    row_number        integer,
    participant_hash  text        NOT NULL,
    metric_id         text        NOT NULL,
    achieved_on       date,
    status            text        NOT NULL CHECK (status IN (
        'accepted', 'rejected', 'sampled', 'verified', 'failed_verification', 'paid',
        'clawed_back')),
    rule              text,
    reason            text,
    amount_pence      bigint      CHECK (amount_pence >= 0),
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (contract_id, batch_id, chunk_index, position)
);
CREATE INDEX evidence_claim_results_by_claim
    ON evidence_claim_results (contract_id, participant_hash, metric_id);
CREATE INDEX evidence_claim_results_by_status
    ON evidence_claim_results (contract_id, batch_id, status, chunk_index, position);

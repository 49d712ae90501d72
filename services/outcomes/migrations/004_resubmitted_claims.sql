-- A claim the verifier refused (failed_verification) may come back in a later batch with new
-- evidence (issue 19). The claims table keeps one live claim per participant and metric in a
-- place, so the refused claim moves here, as it was, when its resubmission is accepted: nothing
-- refused is lost, and the verifier's decisions on it stay in verification_decisions.
CREATE TABLE resubmitted_claims (
    place_id              text   NOT NULL,
    participant_hash      text   NOT NULL,
    metric_id             text   NOT NULL,
    contract_id           text   NOT NULL,
    batch_id              text   NOT NULL,
    achieved_on           date   NOT NULL,
    evidence_reference    text   NOT NULL,
    price_pence           bigint NOT NULL,
    row_number            integer,
    status                text   NOT NULL,
    resubmitted_in_batch  text   NOT NULL,
    PRIMARY KEY (place_id, participant_hash, metric_id, contract_id, batch_id)
);

-- The outcomes service's own tables: contracts and their prices, paid claims, evidence batches.

-- One row per registered outcomes contract; paid_pence grows as the ledger confirms payments.
CREATE TABLE contracts (
    contract_id    text   PRIMARY KEY,
    place_id       text   NOT NULL,
    allocation_id  text   NOT NULL,
    provider_id    text   NOT NULL,
    cap_pence      bigint NOT NULL CHECK (cap_pence >= 0),
    paid_pence     bigint NOT NULL DEFAULT 0 CHECK (paid_pence >= 0)
);

-- The price of one verified outcome of each metric of a contract.
CREATE TABLE metric_prices (
    contract_id  text   NOT NULL,
    metric_id    text   NOT NULL,
    price_pence  bigint NOT NULL CHECK (price_pence > 0),
    PRIMARY KEY (contract_id, metric_id)
);

-- Accepted claims. The key makes a participant-metric outcome payable once per place, across
-- every contract and provider (DOMAIN.md §4: no double payment).
CREATE TABLE claims (
    place_id            text   NOT NULL,
    participant_hash    text   NOT NULL,
    metric_id           text   NOT NULL,
    contract_id         text   NOT NULL,
    batch_id            text   NOT NULL,
    achieved_on         date   NOT NULL,
    evidence_reference  text   NOT NULL,
    price_pence         bigint NOT NULL CHECK (price_pence > 0),
    PRIMARY KEY (place_id, participant_hash, metric_id)
);

-- Each evidence batch and where its payment has got to.
CREATE TABLE batches (
    contract_id   text   NOT NULL,
    batch_id      text   NOT NULL,
    status        text   NOT NULL
        CHECK (status IN ('payment_requested', 'paid', 'payment_rejected', 'rejected')),
    amount_pence  bigint NOT NULL CHECK (amount_pence >= 0),
    reason        text,
    -- The ledger's answers name the payment, not always the contract, so it is kept and unique.
    payment_id    text   UNIQUE,
    PRIMARY KEY (contract_id, batch_id)
);

-- Grant instalments the ledger refused, for finance staff (issue 19): each is waiting for money
-- to come into its reservation (retried by the next due-work run once it has), retried, or
-- unpayable by retrying (a closed year, no reservation), which needs a person.
CREATE TABLE refused_instalments (
    place_id            text        NOT NULL,
    allocation_id       text        NOT NULL,
    instalment_number   integer     NOT NULL,
    payment_id          text        NOT NULL,
    status              text        NOT NULL
        CHECK (status IN ('awaiting_retry', 'retried', 'needs_attention')),
    rule                text,
    reason              text        NOT NULL,
    amount_pence        bigint,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (place_id, allocation_id, instalment_number)
);

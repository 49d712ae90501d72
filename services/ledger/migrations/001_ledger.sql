-- The ledger's own tables: append-only transfers with a hash chain per place, and balances.

-- Every posted transfer, never updated or deleted (ARCHITECTURE.md §4, invariant 4).
CREATE TABLE transfers (
    place_id               text        NOT NULL,
    sequence               bigint      NOT NULL CHECK (sequence >= 1),
    transfer_id            text        NOT NULL UNIQUE,
    request_event_id       uuid        NOT NULL,
    financial_year         text        NOT NULL,
    iati_transaction_type  smallint    NOT NULL,
    department_code        text,
    funding_stream_code    text,
    allocation_id          text,
    contract_id            text,
    claim_id               text,
    description            text        NOT NULL,
    legs                   jsonb       NOT NULL,
    previous_hash          text        NOT NULL,
    chain_hash             text        NOT NULL,
    posted_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, sequence)
);

CREATE FUNCTION refuse_transfer_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger transfers are immutable: post a reversing transfer instead';
END $$;
CREATE TRIGGER transfers_are_immutable BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION refuse_transfer_change();

-- The newest link of each place's chain, locked while a transfer is posted.
CREATE TABLE chain_heads (
    place_id    text   PRIMARY KEY,
    sequence    bigint NOT NULL,
    chain_hash  text   NOT NULL
);

-- Credit-positive balances, re-derivable from the transfers' legs.
CREATE TABLE balances (
    place_id             text    NOT NULL,
    financial_year       text    NOT NULL,
    account              text    NOT NULL,
    department_code      text,
    funding_stream_code  text,
    must_not_go_negative boolean NOT NULL,
    balance_pence        bigint  NOT NULL,
    PRIMARY KEY (place_id, financial_year, account),
    CONSTRAINT flagged_accounts_never_negative
        CHECK (NOT must_not_go_negative OR balance_pence >= 0)
);

-- Which financial year each allocation's reservation lives in.
CREATE TABLE reservations (
    place_id        text   NOT NULL,
    allocation_id   text   NOT NULL,
    financial_year  text   NOT NULL,
    reserved_pence  bigint NOT NULL CHECK (reserved_pence > 0),
    PRIMARY KEY (place_id, allocation_id)
);

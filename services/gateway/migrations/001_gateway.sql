-- The gateway's read models, built from the ledger's public events.

-- The pot per place, financial year and department stream.
CREATE TABLE pot_streams (
    place_id             text   NOT NULL,
    financial_year       text   NOT NULL,
    department_code      text   NOT NULL,
    funding_stream_code  text   NOT NULL,
    settled_pence        bigint NOT NULL DEFAULT 0,
    reserved_pence       bigint NOT NULL DEFAULT 0,
    paid_pence           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (place_id, financial_year, department_code, funding_stream_code)
);

-- Every spend event, as departments receive it.
CREATE TABLE spend_records (
    spend_id        text        PRIMARY KEY,
    place_id        text        NOT NULL,
    amount_pence    bigint      NOT NULL,
    record          jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spend_records_by_place ON spend_records (place_id, received_at);

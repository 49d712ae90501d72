-- Pooled-budget partner returns: each receipt into the pool with the day it happened (the
-- quarterly return's income), the year-end risk shares the ledger applied, and the variance
-- narratives finance staff write per partner and quarter (the latest one is the return's).
CREATE TABLE partner_receipts (
    place_id             text        NOT NULL,
    receipt_id           text        NOT NULL,
    financial_year       text        NOT NULL,
    department_code      text        NOT NULL,
    funding_stream_code  text        NOT NULL,
    amount_pence         bigint      NOT NULL,
    received_at          timestamptz NOT NULL,
    PRIMARY KEY (place_id, receipt_id)
);

CREATE TABLE risk_shares (
    place_id             text        NOT NULL,
    financial_year       text        NOT NULL,
    risk_share_id        text        NOT NULL,
    rule                 text        NOT NULL,
    agreement_reference  text        NOT NULL,
    pool_borne_pence     bigint      NOT NULL,
    partners             jsonb       NOT NULL,
    moves                jsonb       NOT NULL,
    transfer_id          text,
    applied_at           timestamptz NOT NULL,
    PRIMARY KEY (place_id, financial_year)
);

CREATE TABLE partner_return_narratives (
    place_id         text        NOT NULL,
    financial_year   text        NOT NULL,
    quarter          text        NOT NULL CHECK (quarter IN ('Q1', 'Q2', 'Q3', 'Q4')),
    department_code  text        NOT NULL,
    narrative        text        NOT NULL,
    written_by       text        NOT NULL,
    written_at       timestamptz NOT NULL,
    command_id       uuid        PRIMARY KEY REFERENCES command_log (event_id)
);
CREATE INDEX partner_return_narratives_by_quarter
    ON partner_return_narratives (place_id, financial_year, quarter, department_code);

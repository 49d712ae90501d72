-- What the ledger needs besides transfers and balances to judge a request on its own: which
-- requests it has answered (and how), settlements, payments, ids already used, closed years.

-- Every request id the ledger has answered, with a fingerprint of its body and the ids of the
-- events it answered with: a repeat with the same body gets that answer again; the same id
-- with another body is refused (ARCHITECTURE.md §4, invariant 3).
CREATE TABLE answered_requests (
    event_id          uuid        PRIMARY KEY,
    place_id          text        NOT NULL,
    request_type      text        NOT NULL,
    body_hash         text        NOT NULL,
    answer_event_ids  uuid[]      NOT NULL,
    answered_at       timestamptz NOT NULL DEFAULT now()
);

-- Requests that reused an answered id with a different body: refused, and kept for review.
CREATE TABLE conflicting_requests (
    event_id      uuid        NOT NULL,
    body_hash     text        NOT NULL,
    place_id      text        NOT NULL,
    request_type  text        NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, body_hash)
);

CREATE TABLE settlements (
    place_id             text NOT NULL,
    settlement_id        text NOT NULL,
    department_code      text NOT NULL,
    funding_stream_code  text NOT NULL,
    PRIMARY KEY (place_id, settlement_id)
);

-- Payments made, so that a recovery can be checked against what was paid and not recovered.
CREATE TABLE payments (
    place_id         text   NOT NULL,
    payment_id       text   NOT NULL,
    allocation_id    text   NOT NULL,
    provider_id      text   NOT NULL,
    financial_year   text   NOT NULL,
    amount_pence     bigint NOT NULL CHECK (amount_pence > 0),
    attribution      jsonb  NOT NULL,
    recovered_pence  bigint NOT NULL CHECK (recovered_pence BETWEEN 0 AND amount_pence),
    PRIMARY KEY (place_id, payment_id)
);

-- Business ids that post once: receipts, recoveries, virements.
CREATE TABLE used_ids (
    place_id  text NOT NULL,
    used_id   text NOT NULL,
    PRIMARY KEY (place_id, used_id)
);

CREATE TABLE closed_years (
    place_id        text        NOT NULL,
    financial_year  text        NOT NULL,
    closed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, financial_year)
);

-- A reservation may grow (a variation up), so its amount lives in the balances, not here.
ALTER TABLE reservations DROP COLUMN reserved_pence;

-- Commitment accounts are looked up by allocation when a batch is loaded.
ALTER TABLE balances ADD COLUMN allocation_id text;
CREATE INDEX balances_by_allocation ON balances (place_id, allocation_id)
    WHERE allocation_id IS NOT NULL;
CREATE INDEX transfers_by_allocation ON transfers (place_id, allocation_id);

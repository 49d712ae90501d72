-- Who may call the gateway, what they asked for, department subscriptions, and the read models
-- built from every public event stream.

-- People and services that hold tokens.
CREATE TABLE principals (
    principal_id  text        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('user', 'service')),
    display_name  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- What each principal may do: a role, in a place ('*' = every place), for a subject (the
-- provider id of a provider, the department code of a department; '' for other roles).
CREATE TABLE grants (
    principal_id  text NOT NULL REFERENCES principals ON DELETE CASCADE,
    role          text NOT NULL,
    place_id      text NOT NULL,
    subject_id    text NOT NULL DEFAULT '',
    PRIMARY KEY (principal_id, role, place_id, subject_id)
);

-- Tokens are stored only as SHA-256 hashes; the token itself is shown once, when made.
CREATE TABLE tokens (
    token_id      uuid        PRIMARY KEY,
    principal_id  text        NOT NULL REFERENCES principals ON DELETE CASCADE,
    token_hash    bytea       NOT NULL UNIQUE,
    description   text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);

-- Every POST accepted: who did it, with which key, the request's hash and the response given,
-- written in the same transaction as the outbox row, so a retried request is replayed.
CREATE TABLE command_log (
    principal_id     text        NOT NULL,
    idempotency_key  text        NOT NULL,
    token_id         uuid,
    event_id         uuid        UNIQUE,
    event_type       text        NOT NULL,
    place_id         text        NOT NULL,
    method_path      text        NOT NULL,
    request_hash     text        NOT NULL,
    response_status  integer     NOT NULL,
    response_body    jsonb       NOT NULL,
    accepted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, idempotency_key)
);

ALTER TABLE pot_streams ADD COLUMN received_pence bigint NOT NULL DEFAULT 0;

-- Allocations as the board and the ledger left them.
CREATE TABLE allocations (
    place_id         text        NOT NULL,
    allocation_id    text        NOT NULL,
    allocation_type  text        NOT NULL,
    recipient_id     text        NOT NULL,
    purpose          text        NOT NULL,
    mission_id       text        NOT NULL,
    start_date       date        NOT NULL,
    end_date         date        NOT NULL,
    value_pence      bigint      NOT NULL,
    financial_year   text        NOT NULL,
    proposed_by      text        NOT NULL,
    status           text        NOT NULL,
    status_reason    text        NOT NULL DEFAULT '',
    decided_by       text,
    funded_pence     bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, allocation_id)
);

-- Each reservation's stream mix, so a release can be attributed back to the streams.
CREATE TABLE reservations (
    place_id        text   NOT NULL,
    allocation_id   text   NOT NULL,
    financial_year  text   NOT NULL,
    amount_pence    bigint NOT NULL,
    released_pence  bigint NOT NULL DEFAULT 0,
    attribution     jsonb  NOT NULL,
    PRIMARY KEY (place_id, allocation_id)
);

CREATE TABLE contracts (
    place_id       text        NOT NULL,
    contract_id    text        NOT NULL,
    allocation_id  text        NOT NULL,
    provider_id    text        NOT NULL,
    prices         jsonb       NOT NULL,
    cap_pence      bigint      NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, contract_id)
);
CREATE INDEX contracts_by_provider ON contracts (provider_id);

CREATE TABLE evidence_batches (
    place_id        text        NOT NULL,
    contract_id     text        NOT NULL,
    batch_id        text        NOT NULL,
    provider_id     text        NOT NULL DEFAULT '',
    status          text        NOT NULL,
    claim_count     integer     NOT NULL DEFAULT 0,
    accepted_count  integer     NOT NULL DEFAULT 0,
    rejected_count  integer     NOT NULL DEFAULT 0,
    verified_count  integer     NOT NULL DEFAULT 0,
    amount_pence    bigint      NOT NULL DEFAULT 0,
    reasons         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    -- The claims drawn for the verifier (pseudonymous hashes only), as the verifier needs them.
    sample_size     integer     NOT NULL DEFAULT 0,
    sample          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, contract_id, batch_id)
);

CREATE TABLE payments (
    place_id         text        NOT NULL,
    payment_id       text        NOT NULL,
    allocation_id    text        NOT NULL,
    provider_id      text        NOT NULL DEFAULT '',
    contract_id      text,
    claim_batch_id   text,
    amount_pence     bigint      NOT NULL,
    payment_kind     text        NOT NULL DEFAULT '',
    status           text        NOT NULL,
    reason           text        NOT NULL DEFAULT '',
    recovered_pence  bigint      NOT NULL DEFAULT 0,
    attribution      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, payment_id)
);

CREATE TABLE closed_periods (
    place_id        text        NOT NULL,
    financial_year  text        NOT NULL,
    closed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, financial_year)
);

-- Spend as each department sees it: one row per spend event and department, numbered in commit
-- order (the numbers are the SSE event ids, so they are never reused, even by a rebuild).
CREATE TABLE department_spend (
    sequence         bigint      PRIMARY KEY,
    department_code  text        NOT NULL,
    place_id         text        NOT NULL,
    spend_id         text        NOT NULL,
    event_id         uuid        NOT NULL,
    amount_pence     bigint      NOT NULL,
    record           jsonb       NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, department_code)
);
CREATE INDEX department_spend_feed ON department_spend (department_code, sequence);
-- Drawn only under the feed's advisory lock, held to commit: numbers commit in order.
CREATE SEQUENCE department_spend_sequence;

CREATE TABLE webhook_subscriptions (
    subscription_id  uuid        PRIMARY KEY,
    department_code  text        NOT NULL,
    url              text        NOT NULL,
    secret           text        NOT NULL,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    active           boolean     NOT NULL DEFAULT true
);
CREATE INDEX webhook_subscriptions_by_department ON webhook_subscriptions (department_code);

-- One row per subscription and spend event: the unit of exactly-once-in-effect delivery.
CREATE TABLE webhook_deliveries (
    delivery_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  uuid        NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
    sequence         bigint      NOT NULL REFERENCES department_spend,
    event_id         uuid        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- The delivery log: every attempt, with what the receiver answered.
CREATE TABLE webhook_attempts (
    attempt_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint      NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempt       integer     NOT NULL,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    status_code   integer,
    error         text        NOT NULL DEFAULT '',
    duration_ms   integer     NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);

-- The outbox and inbox every service keeps in its own schema (ARCHITECTURE.md §3).

-- Rows a service commits together with its state change; the relay publishes them.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    topic           text        NOT NULL,   -- logical name; the relay adds any prefix
    partition_key   text        NOT NULL,
    event_type      text        NOT NULL,
    value           bytea       NOT NULL,
    headers         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- One row per message a consumer has dealt with, written in the same transaction as its effect.
CREATE TABLE inbox (
    consumer        text        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('processed', 'dead_lettered')),
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

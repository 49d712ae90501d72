-- Where the relay last published on each partition (topic with its prefix), so that a broker
-- that lost its data is noticed: the partition ends before that offset, or holds another event.
CREATE TABLE relay_positions (
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Pruning finds old published rows and old inbox rows without reading the whole table.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_processed_at ON inbox (processed_at);

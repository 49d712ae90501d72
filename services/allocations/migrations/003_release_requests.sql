-- Each release the service asked the ledger for, by the request's event id, so that the
-- ledger's RequestRejected (which names only that id) finds its allocation and amount.
CREATE TABLE release_requests (
    place_id          text   NOT NULL,
    request_event_id  uuid   NOT NULL,
    allocation_id     text   NOT NULL,
    amount_pence      bigint NOT NULL CHECK (amount_pence > 0),
    PRIMARY KEY (place_id, request_event_id)
);

-- The allocations service's own tables: each allocation's proposal and status, and the pot's mix.

-- One row per allocation, keyed by the client-chosen allocation id within its place.
CREATE TABLE allocations (
    place_id         text   NOT NULL,
    allocation_id    text   NOT NULL,
    allocation_type  text   NOT NULL,
    recipient_id     text   NOT NULL,
    purpose          text   NOT NULL,
    mission_id       text   NOT NULL,
    start_date       date   NOT NULL,
    end_date         date   NOT NULL,
    value_pence      bigint NOT NULL CHECK (value_pence > 0),
    financial_year   text   NOT NULL,
    status           text   NOT NULL
        CHECK (status IN ('proposed', 'approved', 'rejected', 'funded', 'unfunded')),
    status_reason    text,
    proposed_by      text   NOT NULL,
    decided_by       text,
    PRIMARY KEY (place_id, allocation_id),
    CHECK (end_date > start_date)
);

-- What each department's funding stream has settled on the place, from the ledger's results:
-- the settlements' stream mix, which later checks (earmarks) read.
CREATE TABLE place_streams (
    place_id             text   NOT NULL,
    department_code      text   NOT NULL,
    funding_stream_code  text   NOT NULL,
    settled_pence        bigint NOT NULL CHECK (settled_pence >= 0),
    PRIMARY KEY (place_id, department_code, funding_stream_code)
);

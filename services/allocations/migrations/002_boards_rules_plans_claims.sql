-- Issue 4: boards, versioned decision rules, interests, plans and missions, earmarks, votes,
-- variations, claims, and each allocation's terms and money as one document.
-- The skeleton's two tables held no data worth keeping: they are replaced.

DROP TABLE allocations;
DROP TABLE place_streams;

-- One row per place, locked by every command so one place's rules apply in order.
CREATE TABLE places (
    place_id  text PRIMARY KEY
);

-- Every version of a place's board and of its decision rules; the highest version is in force.
CREATE TABLE boards (
    place_id  text    NOT NULL,
    version   integer NOT NULL CHECK (version >= 1),
    document  jsonb   NOT NULL,
    PRIMARY KEY (place_id, version)
);

CREATE TABLE decision_rules (
    place_id  text    NOT NULL,
    version   integer NOT NULL CHECK (version >= 1),
    document  jsonb   NOT NULL,
    PRIMARY KEY (place_id, version)
);

CREATE TABLE interests (
    place_id       text NOT NULL,
    interest_id    text NOT NULL,
    member_id      text NOT NULL,
    recipient_id   text,
    allocation_id  text,
    document       jsonb NOT NULL,
    PRIMARY KEY (place_id, interest_id)
);

CREATE TABLE plans (
    place_id  text  NOT NULL,
    plan_id   text  NOT NULL,
    document  jsonb NOT NULL,
    PRIMARY KEY (place_id, plan_id)
);

CREATE TABLE missions (
    place_id    text NOT NULL,
    mission_id  text NOT NULL,
    plan_id     text NOT NULL,
    PRIMARY KEY (place_id, mission_id)
);

CREATE TABLE earmarks (
    place_id    text  NOT NULL,
    earmark_id  text  NOT NULL,
    document    jsonb NOT NULL,
    PRIMARY KEY (place_id, earmark_id)
);

-- What each department's stream settled on the place per financial year (the ledger's results):
-- the settlements' stream mix, which earmark checks read.
CREATE TABLE settled_streams (
    place_id             text   NOT NULL,
    financial_year       text   NOT NULL,
    department_code      text   NOT NULL,
    funding_stream_code  text   NOT NULL,
    settled_pence        bigint NOT NULL CHECK (settled_pence >= 0),
    PRIMARY KEY (place_id, financial_year, department_code, funding_stream_code)
);

-- One row per allocation. The columns are what queries select on; the document is the rest.
CREATE TABLE allocations (
    place_id        text    NOT NULL,
    allocation_id   text    NOT NULL,
    financial_year  text    NOT NULL,
    status          text    NOT NULL,
    value_pence     bigint  NOT NULL CHECK (value_pence > 0),
    end_date        date    NOT NULL,
    purpose_tags    text[]  NOT NULL,
    counted_pence   bigint  NOT NULL,
    document        jsonb   NOT NULL,
    PRIMARY KEY (place_id, allocation_id)
);
CREATE INDEX allocations_by_year ON allocations (place_id, financial_year);
CREATE INDEX allocations_running ON allocations (place_id, status);

CREATE TABLE votes (
    place_id       text    NOT NULL,
    allocation_id  text    NOT NULL,
    variation_id   text    NOT NULL,  -- '' for a vote on the allocation itself
    member_id      text    NOT NULL,
    vote           text    NOT NULL CHECK (vote IN ('for', 'against', 'abstain')),
    rules_version  integer NOT NULL,
    PRIMARY KEY (place_id, allocation_id, variation_id, member_id)
);

CREATE TABLE variations (
    place_id       text  NOT NULL,
    variation_id   text  NOT NULL,
    allocation_id  text  NOT NULL,
    document       jsonb NOT NULL,
    PRIMARY KEY (place_id, variation_id)
);

-- Every payment the ledger made from an allocation, so a later recovery finds its allocation.
CREATE TABLE payments (
    place_id       text   NOT NULL,
    payment_id     text   NOT NULL,
    allocation_id  text   NOT NULL,
    amount_pence   bigint NOT NULL,
    PRIMARY KEY (place_id, payment_id)
);

CREATE TABLE claims (
    place_id         text  NOT NULL,
    claim_id         text  NOT NULL,
    status           text  NOT NULL,
    response_due_on  date  NOT NULL,
    document         jsonb NOT NULL,
    PRIMARY KEY (place_id, claim_id)
);

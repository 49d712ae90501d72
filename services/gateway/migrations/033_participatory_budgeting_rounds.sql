-- Participatory budgeting rounds (services/gateway/citizens): a round's budget is an allocation
-- the ledger reserved (allocation_id); residents' proposals with their moderation; ballots kept
-- as voter keys only (one per key and round, never what the key chose), and each proposal's
-- running vote total, which is all the count reads and what is published.
CREATE TABLE citizens_pb_rounds (
    place_id            text     NOT NULL,
    round_id            text     NOT NULL,
    title               text     NOT NULL,
    allocation_id       text     NOT NULL,
    budget_pence        bigint   NOT NULL CHECK (budget_pence > 0),
    proposals_open_on   date     NOT NULL,
    proposals_close_on  date     NOT NULL,
    voting_open_on      date     NOT NULL,
    voting_close_on     date     NOT NULL,
    eligible_areas      text[]   NOT NULL,
    eligible_purposes   text[]   NOT NULL,
    projects_start_on   date     NOT NULL,
    projects_end_on     date     NOT NULL,
    opened_by           text     NOT NULL,
    counted_at          timestamptz,
    counted_by          text,
    funded_pence        bigint,
    unspent_pence       bigint,
    settle_event_id     uuid,
    PRIMARY KEY (place_id, round_id),
    UNIQUE (place_id, allocation_id)
);

CREATE TABLE citizens_pb_proposals (
    place_id           text         NOT NULL,
    round_id           text         NOT NULL,
    proposal_id        uuid         NOT NULL,
    title              text         NOT NULL,
    description        text         NOT NULL,
    area               text         NOT NULL,
    purpose            text         NOT NULL,
    cost_pence         bigint       NOT NULL CHECK (cost_pence > 0),
    recipient_id       text         NOT NULL,
    proposer_key       text         NOT NULL,
    submitted_at       timestamptz  NOT NULL,
    moderation         text         NOT NULL DEFAULT 'pending'
                                    CHECK (moderation IN ('pending', 'accepted', 'rejected')),
    moderation_reason  text,
    moderated_at       timestamptz,
    votes              integer      NOT NULL DEFAULT 0 CHECK (votes >= 0),
    winner_rank        integer,
    allocation_id      text,
    PRIMARY KEY (place_id, round_id, proposal_id),
    FOREIGN KEY (place_id, round_id) REFERENCES citizens_pb_rounds (place_id, round_id)
);

CREATE TABLE citizens_pb_ballots (
    place_id   text         NOT NULL,
    round_id   text         NOT NULL,
    voter_key  text         NOT NULL,
    cast_on    date         NOT NULL,
    PRIMARY KEY (place_id, round_id, voter_key),
    FOREIGN KEY (place_id, round_id) REFERENCES citizens_pb_rounds (place_id, round_id)
);

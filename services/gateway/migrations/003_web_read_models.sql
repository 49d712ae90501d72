-- Read models the web pages need: the board (members, rules, interests, votes, decisions,
-- sign-off, refusals, earmarks, missions), Right to Serve claims, remittances, clawbacks, the
-- referral funnel, spend over time; and the trace context of each department's spend, so a
-- webhook delivery continues the spend event's trace after a restart.

-- The trace the spend event travelled in (W3C traceparent), for the webhook delivery's span.
ALTER TABLE department_spend ADD COLUMN traceparent text;

-- When the ledger recorded the spend (the envelope's occurred_at): months of spend over time
-- must not move when the read models are rebuilt.
ALTER TABLE spend_records ADD COLUMN spent_at timestamptz;

-- What the board page needs of an allocation beyond its status.
ALTER TABLE allocations ADD COLUMN purpose_tags jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE allocations ADD COLUMN proposed_at timestamptz;
ALTER TABLE allocations ADD COLUMN sign_off_required boolean;
ALTER TABLE allocations ADD COLUMN rules_version integer;
-- A decision taken without recorded votes (a place with no board) is kept here too.
ALTER TABLE allocations ADD COLUMN decision text CHECK (decision IN ('approved', 'rejected'));
ALTER TABLE allocations ADD COLUMN decision_reason text NOT NULL DEFAULT '';
-- The rule a rejection applied (majority, an earmark re-checked at decision time, ...).
ALTER TABLE allocations ADD COLUMN rejection_rule text;
ALTER TABLE allocations ADD COLUMN decided_at timestamptz;

-- The rest of an outcomes contract's registration: payers, metric definitions, dates, claim
-- periods, difficulty segments, social-value KPIs (the registration event, less what has its
-- own column).
ALTER TABLE contracts ADD COLUMN terms jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The board as last configured.
CREATE TABLE boards (
    place_id               text        PRIMARY KEY,
    board_version          integer     NOT NULL,
    chair_id               text        NOT NULL,
    chair_role             text        NOT NULL,
    accounting_officer_id  text        NOT NULL,
    members                jsonb       NOT NULL
);

-- The decision rules as last set.
CREATE TABLE decision_rules (
    place_id                  text     PRIMARY KEY,
    rules_version             integer  NOT NULL,
    quorum_members            integer  NOT NULL,
    majority                  text     NOT NULL,
    sign_off_threshold_pence  bigint   NOT NULL,
    claim_response_days       integer  NOT NULL
);

CREATE TABLE interests (
    place_id       text NOT NULL,
    interest_id    text NOT NULL,
    member_id      text NOT NULL,
    recipient_id   text,
    allocation_id  text,
    description    text NOT NULL,
    PRIMARY KEY (place_id, interest_id)
);

-- The latest vote of each member on an allocation ('' variation) or a variation of it.
CREATE TABLE votes (
    place_id       text    NOT NULL,
    allocation_id  text    NOT NULL,
    variation_id   text    NOT NULL DEFAULT '',
    member_id      text    NOT NULL,
    vote           text    NOT NULL,
    rules_version  integer NOT NULL,
    PRIMARY KEY (place_id, allocation_id, variation_id, member_id)
);

CREATE TABLE board_decisions (
    place_id       text        NOT NULL,
    allocation_id  text        NOT NULL,
    variation_id   text        NOT NULL DEFAULT '',
    outcome        text        NOT NULL,
    rules_version  integer     NOT NULL,
    votes_for      jsonb       NOT NULL,
    votes_against  jsonb       NOT NULL,
    abstentions    jsonb       NOT NULL,
    recused        jsonb       NOT NULL,
    reason         text        NOT NULL,
    decided_at     timestamptz NOT NULL,
    PRIMARY KEY (place_id, allocation_id, variation_id)
);

CREATE TABLE sign_offs (
    place_id               text        NOT NULL,
    allocation_id          text        NOT NULL,
    variation_id           text        NOT NULL DEFAULT '',
    state                  text        NOT NULL CHECK (state IN ('signed_off', 'refused')),
    accounting_officer_id  text        NOT NULL,
    reasons                text,
    decided_at             timestamptz NOT NULL,
    PRIMARY KEY (place_id, allocation_id, variation_id)
);

-- Commands the allocations service refused, with the rule broken (an earmark breach, ...).
CREATE TABLE command_refusals (
    place_id      text        NOT NULL,
    event_id      uuid        NOT NULL,
    command_type  text        NOT NULL,
    subject_id    text        NOT NULL,
    rule          text        NOT NULL,
    reason        text        NOT NULL,
    refused_at    timestamptz NOT NULL,
    PRIMARY KEY (place_id, event_id)
);
CREATE INDEX command_refusals_by_subject ON command_refusals (place_id, subject_id);

CREATE TABLE earmarks (
    place_id                    text    NOT NULL,
    earmark_id                  text    NOT NULL,
    kind                        text    NOT NULL,
    purpose_tag                 text    NOT NULL,
    minimum_share_basis_points  integer,
    department_code             text,
    funding_stream_code         text,
    reason                      text    NOT NULL,
    PRIMARY KEY (place_id, earmark_id)
);

-- Missions of the adopted Local Reform Plans.
CREATE TABLE missions (
    place_id                  text  NOT NULL,
    mission_id                text  NOT NULL,
    plan_id                   text  NOT NULL,
    plan_title                text  NOT NULL,
    spending_review_period    text  NOT NULL,
    title                     text  NOT NULL,
    metro_mission_id          text,
    national_mission_metrics  jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (place_id, mission_id)
);

-- Right to Serve / Right to Request claims and the board's answers.
CREATE TABLE claims (
    place_id             text    NOT NULL,
    claim_id             text    NOT NULL,
    claim_kind           text    NOT NULL,
    claimant_id          text    NOT NULL,
    claimant_kind        text    NOT NULL,
    service_description  text    NOT NULL,
    lodged_on            date    NOT NULL,
    response_due_on      date    NOT NULL,
    overdue_as_of        date,
    outcome              text,
    reasons              text,
    responded_by         text,
    responded_on         date,
    late                 boolean,
    PRIMARY KEY (place_id, claim_id)
);

-- Remittance advice: what each paid batch paid, line by line (metric, claim period).
CREATE TABLE remittances (
    place_id      text        NOT NULL,
    payment_id    text        NOT NULL,
    contract_id   text        NOT NULL,
    batch_id      text        NOT NULL,
    provider_id   text        NOT NULL,
    amount_pence  bigint      NOT NULL,
    lines         jsonb       NOT NULL,
    transfer_id   text        NOT NULL,
    advised_at    timestamptz NOT NULL,
    PRIMARY KEY (place_id, payment_id)
);
CREATE INDEX remittances_by_contract ON remittances (place_id, contract_id);
CREATE INDEX remittances_by_provider ON remittances (place_id, provider_id);

CREATE TABLE clawbacks (
    place_id          text   NOT NULL,
    contract_id       text   NOT NULL,
    clawback_id       text   NOT NULL,
    payment_id        text   NOT NULL,
    metric_id         text   NOT NULL,
    claim_period_id   text,
    amount_pence      bigint NOT NULL,
    status            text   NOT NULL CHECK (status IN ('raised', 'recovered', 'refused')),
    reason            text   NOT NULL,
    recovered_pence   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (place_id, contract_id, clawback_id)
);

-- Referral and engagement counts per contract, as the outcomes service publishes them.
CREATE TABLE contract_funnel (
    place_id        text   NOT NULL,
    contract_id     text   NOT NULL,
    referred_count  bigint NOT NULL DEFAULT 0,
    engaged_count   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (place_id, contract_id)
);

-- The funnel by difficulty segment, as the outcomes service last measured it (each measurement
-- replaces the one before).
CREATE TABLE contract_segment_funnel (
    place_id     text   NOT NULL,
    contract_id  text   NOT NULL,
    segment      text   NOT NULL,
    referred     bigint NOT NULL,
    engaged      bigint NOT NULL,
    achieved     bigint NOT NULL,
    paid         bigint NOT NULL,
    PRIMARY KEY (place_id, contract_id, segment)
);

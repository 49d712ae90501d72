-- INDIGO-shaped outcomes contracts: metric versions, caps per metric and payer, claim periods,
-- chunked evidence with per-row rejections, sampled verification, clawbacks, the funnel the
-- gaming monitors read, open-book returns and investor flows.

ALTER TABLE contracts
    ADD COLUMN start_date           date,
    ADD COLUMN end_date             date,
    ADD COLUMN difficulty_segments  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN social_value_kpi_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN social_impact_bond   boolean NOT NULL DEFAULT false,
    -- Clawbacks the ledger recorded; paid_pence stays the gross paid, so both show.
    ADD COLUMN recovered_pence      bigint NOT NULL DEFAULT 0 CHECK (recovered_pence >= 0),
    -- The registration as received, for INDIGO publication and audit.
    ADD COLUMN terms                jsonb;

-- A metric's cap and payer, and what its accepted claims commit (kept as a running total so
-- that pricing a chunk never sums the whole claims table).
ALTER TABLE metric_prices
    ADD COLUMN cap_pence        bigint CHECK (cap_pence >= 0),
    ADD COLUMN payer_id         text,
    ADD COLUMN committed_pence  bigint NOT NULL DEFAULT 0 CHECK (committed_pence >= 0),
    ADD COLUMN definition       jsonb;

-- Each agreed version of a metric; a claim is priced by the version in force when achieved.
-- Versions are never edited: an amendment by agreement adds the next one.
CREATE TABLE metric_versions (
    contract_id     text    NOT NULL,
    metric_id       text    NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    effective_from  date,
    price_pence     bigint  NOT NULL CHECK (price_pence > 0),
    definition      jsonb,
    agreed_by       text[]  NOT NULL DEFAULT '{}',
    reason          text,
    PRIMARY KEY (contract_id, metric_id, version)
);
INSERT INTO metric_versions (contract_id, metric_id, version, price_pence)
SELECT contract_id, metric_id, 1, price_pence FROM metric_prices;

CREATE TABLE payers (
    contract_id  text   NOT NULL,
    payer_id     text   NOT NULL,
    cap_pence    bigint CHECK (cap_pence >= 0),
    PRIMARY KEY (contract_id, payer_id)
);

CREATE TABLE claim_periods (
    contract_id            text   NOT NULL,
    claim_period_id        text   NOT NULL,
    starts_on              date   NOT NULL,
    ends_on                date   NOT NULL,
    claim_deadline         date,
    planned_payment_pence  bigint NOT NULL DEFAULT 0 CHECK (planned_payment_pence >= 0),
    PRIMARY KEY (contract_id, claim_period_id)
);

-- What the allocations lifecycle told us: an outcome payment waits until its allocation is funded.
CREATE TABLE allocations (
    place_id         text    NOT NULL,
    allocation_id    text    NOT NULL,
    allocation_type  text,
    recipient_id     text,
    value_pence      bigint,
    funded           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (place_id, allocation_id)
);

ALTER TABLE claims
    ADD COLUMN status              text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'paid', 'payment_rejected', 'clawback_requested',
                          'clawed_back')),
    ADD COLUMN row_number          integer,
    ADD COLUMN metric_version      integer NOT NULL DEFAULT 1,
    ADD COLUMN claim_period_id     text,
    ADD COLUMN referral_date       date,
    ADD COLUMN difficulty_segment  text,
    ADD COLUMN sampled             boolean NOT NULL DEFAULT false;
CREATE INDEX claims_by_batch ON claims (contract_id, batch_id);

-- Every claim not accepted, with its row and reason, for the provider's report.
CREATE TABLE claim_rejections (
    contract_id       text    NOT NULL,
    batch_id          text    NOT NULL,
    chunk_index       integer NOT NULL,
    row_number        integer,
    participant_hash  text    NOT NULL,
    metric_id         text    NOT NULL,
    reason            text    NOT NULL
);
CREATE INDEX claim_rejections_by_batch ON claim_rejections (contract_id, batch_id);

-- The chunks of a batch received so far: a chunk delivered again changes nothing.
CREATE TABLE batch_chunks (
    contract_id     text    NOT NULL,
    batch_id        text    NOT NULL,
    chunk_index     integer NOT NULL,
    claim_count     integer NOT NULL,
    accepted_count  integer NOT NULL,
    PRIMARY KEY (contract_id, batch_id, chunk_index)
);

ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches
    ADD CONSTRAINT batches_status_check CHECK (status IN (
        'receiving', 'awaiting_verification', 'held', 'awaiting_funding', 'payment_requested',
        'paid', 'payment_rejected', 'rejected')),
    ADD COLUMN provider_id    text,
    ADD COLUMN chunk_count    integer,
    ADD COLUMN sample_seed    text,
    ADD COLUMN sample_share   double precision,
    ADD COLUMN sample_size    integer,
    ADD COLUMN held_reasons   text[],
    ADD COLUMN transfer_id    text;

-- The verifier's decisions on sampled claims; the latest per claim counts, none is edited.
CREATE TABLE verification_decisions (
    decision_number   bigserial PRIMARY KEY,
    contract_id       text    NOT NULL,
    batch_id          text    NOT NULL,
    participant_hash  text    NOT NULL,
    metric_id         text    NOT NULL,
    verifier_id       text    NOT NULL,
    passed            boolean NOT NULL,
    reason            text
);
CREATE INDEX verification_decisions_by_batch ON verification_decisions (contract_id, batch_id);

CREATE TABLE clawbacks (
    recovery_id       text   PRIMARY KEY,
    clawback_id       text   NOT NULL,
    contract_id       text   NOT NULL,
    place_id          text   NOT NULL,
    participant_hash  text   NOT NULL,
    metric_id         text   NOT NULL,
    payment_id        text   NOT NULL,
    amount_pence      bigint NOT NULL CHECK (amount_pence > 0),
    reason            text   NOT NULL,
    raised_by         text   NOT NULL,
    status            text   NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'recovered', 'refused')),
    ledger_reason     text,
    UNIQUE (contract_id, clawback_id)
);

CREATE TABLE referrals (
    contract_id         text NOT NULL,
    participant_hash    text NOT NULL,
    difficulty_segment  text NOT NULL,
    referred_on         date NOT NULL,
    PRIMARY KEY (contract_id, participant_hash)
);

CREATE TABLE engagements (
    contract_id       text NOT NULL,
    participant_hash  text NOT NULL,
    engaged_on        date NOT NULL,
    PRIMARY KEY (contract_id, participant_hash)
);

-- A flag is raised once per contract, kind and subject.
CREATE TABLE gaming_flags (
    contract_id  text NOT NULL,
    flag_kind    text NOT NULL,
    subject      text NOT NULL,
    detail       text NOT NULL,
    PRIMARY KEY (contract_id, flag_kind, subject)
);

CREATE TABLE open_book_returns (
    contract_id              text   NOT NULL,
    period_id                text   NOT NULL,
    cost_pence               bigint NOT NULL,
    surplus_or_loss_pence    bigint NOT NULL,
    social_value_cost_pence  bigint NOT NULL,
    kpi_results              jsonb  NOT NULL DEFAULT '[]',
    outcome_payments_pence   bigint NOT NULL,
    PRIMARY KEY (contract_id, period_id)
);

-- Social impact bond money between investors and the provider: never an outcome payment.
CREATE TABLE investor_flows (
    contract_id   text   NOT NULL,
    flow_id       text   NOT NULL,
    investor_id   text   NOT NULL,
    flow_kind     text   NOT NULL CHECK (flow_kind IN ('investment', 'repayment', 'return')),
    amount_pence  bigint NOT NULL CHECK (amount_pence > 0),
    occurred_on   date   NOT NULL,
    PRIMARY KEY (contract_id, flow_id)
);

-- Issue 21: grant monitoring (services/gateway/monitoring). Each grant's agreed measures and
-- reporting schedule, its reports with their review, the instalments the allocations service
-- holds for a report (and releases), and claims on grants paid in arrears.
CREATE TABLE monitoring_plans (
    place_id         text        NOT NULL,
    allocation_id    text        NOT NULL,
    recipient_id     text        NOT NULL,
    measures         jsonb       NOT NULL,
    schedule         jsonb       NOT NULL,
    paid_in_arrears  boolean     NOT NULL DEFAULT false,
    set_by           text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, allocation_id)
);

CREATE TABLE monitoring_reports (
    place_id       text        NOT NULL,
    allocation_id  text        NOT NULL,
    report_number  integer     NOT NULL,
    recipient_id   text        NOT NULL,
    kind           text        NOT NULL,
    milestone      text,
    due_date       date        NOT NULL,
    status         text        NOT NULL DEFAULT 'due',
    figures        jsonb,
    narrative      text,
    attachments    jsonb,
    submitted_by   text,
    submitted_at   timestamptz,
    reviewed_by    text,
    reviewed_at    timestamptz,
    review_note    text,
    PRIMARY KEY (place_id, allocation_id, report_number)
);
CREATE INDEX monitoring_reports_by_recipient ON monitoring_reports (place_id, recipient_id);

-- Holds as the allocations service announced them (InstalmentHeld / InstalmentHoldReleased).
CREATE TABLE monitoring_holds (
    place_id           text        NOT NULL,
    allocation_id      text        NOT NULL,
    instalment_number  integer     NOT NULL,
    report_number      integer     NOT NULL,
    amount_pence       bigint      NOT NULL,
    reason             text        NOT NULL,
    held_at            timestamptz NOT NULL,
    released_at        timestamptz,
    payment_id         text,
    PRIMARY KEY (place_id, allocation_id, instalment_number)
);

CREATE TABLE grant_claims (
    place_id          text        NOT NULL,
    claim_id          text        NOT NULL,
    allocation_id     text        NOT NULL,
    recipient_id      text        NOT NULL,
    amount_pence      bigint      NOT NULL,
    evidence          text        NOT NULL,
    status            text        NOT NULL,
    submitted_by      text        NOT NULL,
    submitted_at      timestamptz NOT NULL DEFAULT now(),
    programme_by      text,
    programme_at      timestamptz,
    finance_by        text,
    finance_at        timestamptz,
    review_note       text,
    payment_id        text,
    command_event_id  uuid,
    refusal           text,
    PRIMARY KEY (place_id, claim_id)
);
CREATE INDEX grant_claims_by_allocation ON grant_claims (place_id, allocation_id);
CREATE INDEX grant_claims_by_payment ON grant_claims (place_id, payment_id);

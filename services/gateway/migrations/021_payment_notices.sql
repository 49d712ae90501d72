-- The payments notices (Procurement Act 2023, ss. 69-70) as the finance director approved them:
-- who, when, and the exact figures approved (with their digest). An approved notice is
-- published as open data at once; a row is never changed or removed.
CREATE TABLE payment_notices (
    place_id        text        NOT NULL,
    notice          text        NOT NULL
                    CHECK (notice IN ('payments-compliance', 'payments-over-30000')),
    financial_year  text        NOT NULL,
    period          text        NOT NULL,
    figures         jsonb       NOT NULL,
    figures_digest  text        NOT NULL,
    approved_by     text        NOT NULL,
    approved_at     timestamptz NOT NULL,
    published_at    timestamptz NOT NULL,
    command_id      uuid        NOT NULL REFERENCES command_log (event_id),
    PRIMARY KEY (place_id, notice, financial_year, period)
);

-- The pot's available money as the ledger books it (its unreserved pot account per stream),
-- moved by the exact amounts the ledger's events carry rather than derived from the other
-- figures: releases, recoveries and virements move it too. Rows kept before this migration
-- start from what the old formula gave (settled less reserved).
ALTER TABLE pot_streams ADD COLUMN available_pence bigint NOT NULL DEFAULT 0;
UPDATE pot_streams SET available_pence = settled_pence - reserved_pence;

-- Each run of `singlepot reconcile`: when, for which place (NULL: every place), and how many
-- differences between the read models and the ledger it found; the finance page shows the last.
CREATE TABLE reconciliation_runs (
    run_id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id           text,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL DEFAULT now(),
    differences_count  integer     NOT NULL CHECK (differences_count >= 0),
    accounts_checked   integer     NOT NULL CHECK (accounts_checked >= 0)
);
CREATE INDEX reconciliation_runs_latest ON reconciliation_runs (finished_at DESC);

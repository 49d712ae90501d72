-- Each outcome payment's and each recovery's split by outcome payer, as the ledger booked it
-- (PaymentMade.payer_shares, RecoveryRecorded.payer_shares): payers' statements and INDIGO's
-- per-payer totals (services/gateway/opendata). A recovery's rows are negative. A replay finds
-- its rows (the primary key), so a rebuild needs not empty it.
CREATE TABLE payer_shares (
    place_id text NOT NULL,
    entry_id text NOT NULL,
    payer_id text NOT NULL,
    payment_id text NOT NULL,
    financial_year text,
    amount_pence bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (place_id, entry_id, payer_id)
);
CREATE INDEX payer_shares_by_payer ON payer_shares (place_id, payer_id);

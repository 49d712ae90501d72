-- VAT and merchant category recorded on a payment by finance staff where they apply (the
-- Transparency Code's "irrecoverable VAT" and "merchant category" columns). Rows are only
-- added; the latest for a payment is the one published.
CREATE TABLE payment_tax_details (
    place_id                 text        NOT NULL,
    payment_id               text        NOT NULL,
    irrecoverable_vat_pence  bigint      NOT NULL CHECK (irrecoverable_vat_pence >= 0),
    merchant_category        text,
    recorded_by              text        NOT NULL,
    recorded_at              timestamptz NOT NULL,
    command_id               uuid        PRIMARY KEY REFERENCES command_log (event_id)
);
CREATE INDEX payment_tax_details_by_payment ON payment_tax_details (place_id, payment_id);

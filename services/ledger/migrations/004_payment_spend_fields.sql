-- What a recovery repeats on the spend topic about the payment it takes back: the contract and
-- the kind of payment. Payments made before this migration have neither (NULL).
ALTER TABLE payments
    ADD COLUMN contract_id   text,
    ADD COLUMN payment_kind  text;

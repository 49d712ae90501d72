-- An outcome payment's split by the contract's payers, from its remittance advice (issue 19).
ALTER TABLE remittances ADD COLUMN payer_shares jsonb NOT NULL DEFAULT '[]';

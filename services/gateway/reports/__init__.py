"""The ledger's reports for auditors and finance staff, fetched from the ledger through the
gateway."""

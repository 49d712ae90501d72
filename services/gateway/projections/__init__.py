"""Projections: the read models kept from public events (the pot, allocations, the board,
claims, contracts, evidence, payments), read over HTTP and by the pages; their rebuild and their
reconciliation with the ledger."""

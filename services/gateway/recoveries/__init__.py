"""Recoveries (clawbacks) in the totals people see: what was recovered of payments, per
department and year, so the pot overview and the finance page show paid net of recoveries as
the ledger holds it."""

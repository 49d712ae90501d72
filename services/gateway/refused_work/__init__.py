"""Work the services refused or could not finish, shown to the people who act on it: evidence
batches refused at intake, and grant instalments the ledger refused (retried or not)."""

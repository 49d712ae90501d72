"""Commands: HTTP intake into the outbox. One endpoint per row of the command table, evidence
file uploads, and the early check of the references a command makes."""

"""The command log: every accepted request by principal and Idempotency-Key (so a POST replays
its first answer), and what became of each command as the services answered it (the command
status resource, `/api/v1/commands/{id}`)."""

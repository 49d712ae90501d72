-- What became of each command a person sent (command_log holds it as accepted): the services'
-- result and refusal events, correlated to the command by their envelope's correlation id,
-- move it to done (with the ids of what it made) or refused (with the refusal as decided).
CREATE TABLE command_outcomes (
    command_id       uuid        PRIMARY KEY REFERENCES command_log (event_id),
    status           text        NOT NULL CHECK (status IN ('accepted', 'done', 'refused')),
    -- While still accepted after a first result: what it waits for (the ledger's reservation).
    waiting_for      text,
    made             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    refusal          jsonb,
    last_event_type  text        NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((status = 'refused') = (refusal IS NOT NULL))
);

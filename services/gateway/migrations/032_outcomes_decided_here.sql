-- Commands the gateway decides itself (returns/local_commands.py: citizens, returns) are done
-- as they are accepted, and no event says so: a rebuild of the read models, which empties the
-- outcomes that events refill, must keep theirs (forget_outcomes).
ALTER TABLE command_outcomes ADD COLUMN decided_here boolean NOT NULL DEFAULT false;

-- Those decided so far: the gateway wrote the command itself as their last event.
UPDATE command_outcomes o SET decided_here = true
FROM command_log l
WHERE l.event_id = o.command_id AND o.last_event_type = l.event_type;

-- Those an earlier rebuild forgot: the command log keeps the 201 the gateway answered them with
-- (a service's command is answered 202), saying what each made.
INSERT INTO command_outcomes (command_id, status, made, last_event_type, updated_at,
                              decided_here)
SELECT l.event_id, 'done', coalesce(l.response_body -> 'made', '{}'::jsonb), l.event_type,
       l.accepted_at, true
FROM command_log l
WHERE l.response_status = 201 AND l.response_body ->> 'status' = 'done'
  AND NOT EXISTS (SELECT 1 FROM command_outcomes o WHERE o.command_id = l.event_id);

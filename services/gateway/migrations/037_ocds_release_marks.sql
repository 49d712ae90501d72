-- OCDS releases kept at most once per interval per contracting process (opendata/
-- history_handlers.py): each process's latest change not yet released, and when its next
-- release may be kept. A fetch marks the processes it changed in its own transaction; the
-- fetch that finds a mark due, or the projector's periodic task, keeps the release.
CREATE TABLE ocds_release_marks (
    place_id          text        NOT NULL,
    allocation_id     text        NOT NULL,
    -- The last event that changed the process and is not yet released (both NULL: none).
    pending_event_id  uuid,
    pending_moment    timestamptz,
    -- The earliest (wall-clock) moment the process's next release is kept.
    due_at            timestamptz NOT NULL,
    PRIMARY KEY (place_id, allocation_id),
    CHECK ((pending_event_id IS NULL) = (pending_moment IS NULL))
);
CREATE INDEX ocds_release_marks_waiting ON ocds_release_marks (due_at)
    WHERE pending_event_id IS NOT NULL;

-- A release reads only its own process's rows (opendata/db.py, read_process_data).
CREATE INDEX payments_by_allocation ON payments (place_id, allocation_id);
CREATE INDEX contracts_by_allocation ON contracts (place_id, allocation_id);

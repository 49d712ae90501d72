-- Issue 21: due diligence beside the organisations register (010): what was checked of each
-- organisation (registration, bank details, conflicts declared), by whom and when, and the
-- accounting officer's override of a red rating with its reason. The rating itself is worked
-- out when read (services/gateway/monitoring/diligence.py), so an expired check turns amber
-- without anyone writing anything. `due_diligence_rules` holds each place's validity period.
CREATE TABLE organisation_due_diligence (
    place_id           text        NOT NULL,
    organisation_ref   text        NOT NULL,
    record             jsonb       NOT NULL,
    recorded_by        text        NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    override_by        text,
    override_reason    text,
    override_on        date,
    PRIMARY KEY (place_id, organisation_ref)
);

-- Every recording and override, kept: nothing said about an organisation is lost.
CREATE TABLE organisation_due_diligence_log (
    place_id          text        NOT NULL,
    organisation_ref  text        NOT NULL,
    entry             jsonb       NOT NULL,
    recorded_by       text        NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organisation_due_diligence_log_by_org
    ON organisation_due_diligence_log (place_id, organisation_ref, recorded_at);

CREATE TABLE due_diligence_rules (
    place_id    text        PRIMARY KEY,
    valid_days  integer     NOT NULL,
    set_by      text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

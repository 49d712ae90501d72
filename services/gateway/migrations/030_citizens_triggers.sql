-- Scrutiny triggers (services/gateway/citizens): a resident's petition for early scrutiny of a
-- service or provider, with the threshold and window fixed when it opened, its supporters (one
-- row per pseudonymous resident key, so each counts once), and the referral it became. The
-- audit committee's referrals live here too: from the public, councillors and triggers.
CREATE TABLE citizens_referrals (
    place_id      text        NOT NULL,
    referral_id   uuid        NOT NULL,
    source        text        NOT NULL CHECK (source IN ('public', 'councillor', 'trigger')),
    subject       text        NOT NULL,
    concern       text        NOT NULL,
    referred_by   text        NOT NULL,
    referred_on   date        NOT NULL,
    respond_by    date        NOT NULL,
    status        text        NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'investigating', 'reported', 'declined')),
    status_note   text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, referral_id)
);
CREATE INDEX citizens_referrals_by_day ON citizens_referrals (place_id, referred_on);

CREATE TABLE citizens_triggers (
    place_id      text        NOT NULL,
    trigger_id    uuid        NOT NULL,
    subject_kind  text        NOT NULL CHECK (subject_kind IN ('service', 'provider')),
    subject       text        NOT NULL,
    concern       text        NOT NULL,
    opened_at     timestamptz NOT NULL,
    closes_at     timestamptz NOT NULL,
    threshold     integer     NOT NULL CHECK (threshold >= 1),
    referred_at   timestamptz,
    referral_id   uuid,
    PRIMARY KEY (place_id, trigger_id),
    FOREIGN KEY (place_id, referral_id) REFERENCES citizens_referrals (place_id, referral_id)
);
CREATE INDEX citizens_triggers_by_day ON citizens_triggers (place_id, opened_at);

CREATE TABLE citizens_trigger_supporters (
    place_id      text        NOT NULL,
    trigger_id    uuid        NOT NULL,
    resident_key  text        NOT NULL,
    supported_at  timestamptz NOT NULL,
    PRIMARY KEY (place_id, trigger_id, resident_key),
    FOREIGN KEY (place_id, trigger_id) REFERENCES citizens_triggers (place_id, trigger_id)
);

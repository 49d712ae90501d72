-- The Local Public Audit Committee (services/gateway/citizens): its members (councillors, MPs,
-- members of the public, independents), its reports (stored only once adopted, so every report
-- here is published) and each report's recommendations with the timescale it set and the day
-- it was completed. Referrals and their investigation status are in citizens_referrals.
CREATE TABLE citizens_committee_members (
    place_id    text  NOT NULL,
    name        text  NOT NULL,
    membership  text  NOT NULL CHECK (membership IN ('councillor', 'mp', 'public', 'independent')),
    joined_on   date  NOT NULL,
    PRIMARY KEY (place_id, name)
);

CREATE TABLE citizens_committee_reports (
    place_id     text  NOT NULL,
    report_id    text  NOT NULL,
    referral_id  uuid,
    title        text  NOT NULL,
    summary      text  NOT NULL,
    adopted_on   date  NOT NULL,
    adopted_by   text  NOT NULL,
    PRIMARY KEY (place_id, report_id),
    FOREIGN KEY (place_id, referral_id) REFERENCES citizens_referrals (place_id, referral_id)
);

CREATE TABLE citizens_recommendations (
    place_id         text     NOT NULL,
    report_id        text     NOT NULL,
    number           integer  NOT NULL CHECK (number >= 1),
    recommendation   text     NOT NULL,
    addressed_to     text     NOT NULL,
    due_on           date     NOT NULL,
    completed_on     date,
    completion_note  text,
    PRIMARY KEY (place_id, report_id, number),
    FOREIGN KEY (place_id, report_id) REFERENCES citizens_committee_reports (place_id, report_id)
);

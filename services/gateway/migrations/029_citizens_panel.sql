-- The citizens room (services/gateway/citizens): each place's settings for its panel, scrutiny
-- triggers and audit committee (a place without a row has the defaults), and its standing
-- Citizens' Panel: pseudonymous members, meetings, questions to the board and the board's
-- published answers with the day each was due.
CREATE TABLE citizens_place_rules (
    place_id                 text        PRIMARY KEY,
    answer_days              integer     NOT NULL DEFAULT 20 CHECK (answer_days BETWEEN 1 AND 365),
    trigger_threshold        integer     NOT NULL DEFAULT 100
        CHECK (trigger_threshold BETWEEN 1 AND 1000000),
    trigger_window_days      integer     NOT NULL DEFAULT 90
        CHECK (trigger_window_days BETWEEN 1 AND 730),
    committee_response_days  integer     NOT NULL DEFAULT 28
        CHECK (committee_response_days BETWEEN 1 AND 365),
    set_by                   text        NOT NULL,
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- A member is known by a pseudonym the panel chose; nothing else about them is stored.
CREATE TABLE citizens_panel_members (
    place_id   text        NOT NULL,
    pseudonym  text        NOT NULL,
    joined_on  date        NOT NULL,
    added_by   text        NOT NULL,
    PRIMARY KEY (place_id, pseudonym)
);

CREATE TABLE citizens_panel_meetings (
    place_id    text  NOT NULL,
    meeting_id  text  NOT NULL,
    held_on     date  NOT NULL,
    agenda      text  NOT NULL,
    PRIMARY KEY (place_id, meeting_id)
);

-- A question the panel put to the board at a meeting; due_on is fixed when it is asked (the
-- place's answer_days then), and the board's answer is published with the day it came.
CREATE TABLE citizens_panel_questions (
    place_id     text        NOT NULL,
    question_id  uuid        NOT NULL,
    meeting_id   text        NOT NULL,
    asked_by     text        NOT NULL,
    question     text        NOT NULL,
    asked_on     date        NOT NULL,
    due_on       date        NOT NULL,
    answer       text,
    answered_on  date,
    answered_by  text,
    PRIMARY KEY (place_id, question_id),
    FOREIGN KEY (place_id, meeting_id) REFERENCES citizens_panel_meetings (place_id, meeting_id),
    FOREIGN KEY (place_id, asked_by) REFERENCES citizens_panel_members (place_id, pseudonym)
);
CREATE INDEX citizens_panel_questions_by_day ON citizens_panel_questions (place_id, asked_on);

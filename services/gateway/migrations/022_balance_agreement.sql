-- Agreement of balances: each department's answer to a line of its statement (a department's
-- stream in a year), naming the figures it answered; a dispute stays open until a note of
-- finance staff resolves it. Rows are only ever added.
CREATE TABLE balance_answers (
    answer_id            uuid        PRIMARY KEY,
    place_id             text        NOT NULL,
    department_code      text        NOT NULL,
    financial_year       text        NOT NULL,
    funding_stream_code  text        NOT NULL,
    answer               text        NOT NULL CHECK (answer IN ('confirmed', 'disputed')),
    figures              jsonb       NOT NULL,
    figures_digest       text        NOT NULL,
    department_figures   jsonb,
    note                 text        NOT NULL DEFAULT '',
    answered_by          text        NOT NULL,
    answered_at          timestamptz NOT NULL,
    command_id           uuid        NOT NULL REFERENCES command_log (event_id)
);
CREATE INDEX balance_answers_by_line
    ON balance_answers (place_id, department_code, financial_year, funding_stream_code);

CREATE TABLE balance_dispute_notes (
    answer_id    uuid        NOT NULL REFERENCES balance_answers (answer_id),
    note_number  integer     NOT NULL,
    note         text        NOT NULL,
    resolves     boolean     NOT NULL,
    written_by   text        NOT NULL,
    written_at   timestamptz NOT NULL,
    command_id   uuid        NOT NULL REFERENCES command_log (event_id),
    PRIMARY KEY (answer_id, note_number)
);

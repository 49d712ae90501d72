-- Each place's unit-cost tables for the reform dividend: what one outcome of a metric saves
-- each beneficiary agency and what public value it creates, with the figure's source and year.
-- Every load is a new version; rows are never edited, and the figures use the latest version.
CREATE TABLE insights_unit_costs (
    place_id             text        NOT NULL,
    version              integer     NOT NULL,
    metric_id            text        NOT NULL,
    beneficiary_agency   text        NOT NULL,
    fiscal_saving_pence  bigint      NOT NULL CHECK (fiscal_saving_pence >= 0),
    public_value_pence   bigint      NOT NULL CHECK (public_value_pence >= 0),
    source               text        NOT NULL,
    source_year          text        NOT NULL,
    loaded_by            text        NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, version, metric_id, beneficiary_agency)
);

-- Each place's own choices for the insights room (DOMAIN.md: the papers leave them to the
-- place): which figure the liability forecast tests each year on ('maximum', 'expected' or
-- 'off') and the share of the pot one provider may hold before the board is told. Set by the
-- board's managers through the API; a place without a row has the defaults.
CREATE TABLE insights_place_rules (
    place_id                         text        PRIMARY KEY,
    liability_test                   text        NOT NULL DEFAULT 'maximum'
        CHECK (liability_test IN ('maximum', 'expected', 'off')),
    provider_share_max_basis_points  integer     NOT NULL DEFAULT 2500
        CHECK (provider_share_max_basis_points BETWEEN 1 AND 10000),
    set_by                           text        NOT NULL,
    updated_at                       timestamptz NOT NULL DEFAULT now()
);

-- The organisations register: every department, provider, investor and the combined authority
-- a place's open data names, with the org-id (org-id.guide scheme and identifier) all three
-- exports publish for it. Written by finance staff through the API; read by the exports.
CREATE TABLE organisations (
    place_id           text        NOT NULL,
    organisation_ref   text        NOT NULL,
    kind               text        NOT NULL,
    name               text        NOT NULL,
    legal_form         text        NOT NULL,
    org_id_scheme      text        NOT NULL,
    org_id_identifier  text        NOT NULL,
    postcode           text,
    is_sme             boolean,
    is_vcse            boolean,
    registered_by      text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (place_id, organisation_ref),
    -- One organisation, one id: two references of a place cannot claim the same org-id.
    UNIQUE (place_id, org_id_scheme, org_id_identifier)
);

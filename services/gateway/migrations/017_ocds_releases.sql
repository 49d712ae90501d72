-- OCDS release history (services/gateway/opendata/history.py): a stored release per change to an
-- outcomes contract's contracting process, numbered per process. Releases are published with
-- their ids, so they are kept (like the department feed) when the read models are rebuilt.
-- `release` holds the release with the place's identifier prefixes as placeholders: the
-- prefixes are applied when it is published, so a place that registers its prefixes later
-- keeps its history.
CREATE TABLE ocds_releases (
    place_id text NOT NULL,
    allocation_id text NOT NULL,
    sequence integer NOT NULL CHECK (sequence > 0),
    released_at timestamptz NOT NULL,
    content_sha256 text NOT NULL,
    release json NOT NULL,
    caused_by uuid,
    PRIMARY KEY (place_id, allocation_id, sequence)
);
CREATE UNIQUE INDEX ocds_releases_caused_by ON ocds_releases (place_id, allocation_id, caused_by);

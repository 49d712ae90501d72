-- Issue 21: what the gateway's monitoring room last said of each grant's reports, the
-- instalments those reports hold, and the claims (grants paid in arrears) sent for payment.
-- One JSON document per allocation (services/allocations/holds.py's Reporting).
CREATE TABLE grant_reporting (
    place_id       text  NOT NULL,
    allocation_id  text  NOT NULL,
    document       jsonb NOT NULL,
    PRIMARY KEY (place_id, allocation_id)
);

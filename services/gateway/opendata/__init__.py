"""Open data: a place's awards, contracts, payments and outcomes contracts published in the
standards the sector reads (360Giving, OCDS, INDIGO), built from the gateway's read models."""

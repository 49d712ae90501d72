-- Social impact bonds' investor flows (InvestorFlowRecorded), for the open-data exports: INDIGO
-- investments and OCDS funder parties (services/gateway/opendata). Organisations and money only.
-- A replay finds its rows (the primary key), so a rebuild needs not empty it.
CREATE TABLE investor_flows (
    place_id text NOT NULL,
    flow_id text NOT NULL,
    contract_id text NOT NULL,
    investor_id text NOT NULL,
    flow_kind text NOT NULL CHECK (flow_kind IN ('investment', 'repayment', 'return')),
    amount_pence bigint NOT NULL CHECK (amount_pence > 0),
    occurred_on date NOT NULL,
    PRIMARY KEY (place_id, flow_id)
);

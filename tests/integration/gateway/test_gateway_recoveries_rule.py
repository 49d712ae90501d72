"""The gateway splits a recovery over the departments' streams by the ledger's own rule: for any
payment attribution and any recovery of it, the gateway's shares are the ledger's to the penny.
Pure logic, no database: the ledger's `attribute` is the oracle."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.gateway.projections.domain import recovery_attribution
from services.ledger.domain import StreamShare, attribute

DEPARTMENTS = st.sampled_from(["DWP", "DHSC", "DFE", "MOJ"])
STREAMS = st.sampled_from(["A", "B", "C"])


@st.composite
def payments_and_recoveries(draw: st.DrawFn) -> tuple[list[StreamShare], int]:
    keys = draw(st.lists(st.tuples(DEPARTMENTS, STREAMS), min_size=1, max_size=6, unique=True))
    mix = [StreamShare(d, s, draw(st.integers(1, 10**9))) for d, s in keys]
    paid = sum(share.amount_pence for share in mix)
    return mix, draw(st.integers(1, paid))


@given(payments_and_recoveries())
def test_the_gateways_recovery_shares_are_the_ledgers_to_the_penny(
    case: tuple[list[StreamShare], int],
) -> None:
    mix, recovered_pence = case
    attribution = [
        {
            "department_code": s.department_code,
            "funding_stream_code": s.funding_stream_code,
            "amount_pence": s.amount_pence,
        }
        for s in mix
    ]

    ours = recovery_attribution(recovered_pence, attribution)

    ledgers = attribute(recovered_pence, mix)
    assert sorted(ours) == sorted(
        (s.department_code, s.funding_stream_code, s.amount_pence) for s in ledgers
    )
    assert sum(pence for _, _, pence in ours) == recovered_pence


def test_a_tie_for_the_last_penny_goes_to_the_first_department_and_stream_by_name() -> None:
    attribution = [
        {"department_code": "DWP", "funding_stream_code": "A", "amount_pence": 1},
        {"department_code": "DHSC", "funding_stream_code": "A", "amount_pence": 1},
    ]

    assert recovery_attribution(1, attribution) == [("DHSC", "A", 1)]

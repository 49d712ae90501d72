"""Property tests: any valid spend event survives the trip through the wire unchanged."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from contracts import AttributionShare, SpendRecorded, decode, encode, unwrap, wrap

identifiers = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)
texts = st.text(min_size=1, max_size=200)
years = st.integers(min_value=2000, max_value=2098).map(lambda y: f"{y}-{(y + 1) % 100:02d}")


@st.composite
def spend_events(draw: st.DrawFn) -> SpendRecorded:
    share_amounts = draw(st.lists(st.integers(0, 10**13), min_size=1, max_size=12))
    attribution = tuple(
        AttributionShare(
            department_code=draw(identifiers),
            funding_stream_code=draw(identifiers),
            amount_pence=amount_pence,
        )
        for amount_pence in share_amounts
    )
    return SpendRecorded(
        place_id=draw(identifiers),
        spend_id=draw(identifiers),
        payment_id=draw(identifiers),
        allocation_id=draw(identifiers),
        provider_id=draw(identifiers),
        contract_id=draw(st.none() | identifiers),
        amount_pence=sum(share_amounts),
        payment_kind=draw(st.sampled_from(["grant_instalment", "outcome_payment"])),
        purpose=draw(texts),
        financial_year=draw(years),
        attribution=attribution,
        transfer_id=draw(identifiers),
    )


@given(spend_events(), st.datetimes(timezones=st.just(UTC)))
def test_any_valid_spend_event_round_trips_through_encode_and_decode(
    spend: SpendRecorded, occurred_at: datetime
) -> None:
    envelope = wrap(spend, producer="ledger", occurred_at=occurred_at)
    decoded = decode(encode(envelope))
    assert decoded == envelope
    assert unwrap(decoded) == spend

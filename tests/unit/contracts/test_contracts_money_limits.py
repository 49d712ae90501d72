"""Tests of the money limit: every amount and every profile total at most 2^53 - 1 pence."""

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import PENCE_MAX, Pence, PositivePence, RecordSettlement, SignedPence
from contracts.compatibility import breaking_changes
from contracts.snapshot import load_snapshot


def test_the_limit_is_the_largest_integer_a_json_double_holds_exactly() -> None:
    assert PENCE_MAX == 2**53 - 1
    assert float(PENCE_MAX) == PENCE_MAX and float(PENCE_MAX + 2) != PENCE_MAX + 2


@pytest.mark.parametrize("money", [Pence, PositivePence, SignedPence])
def test_every_money_type_accepts_the_limit_and_refuses_a_penny_more(money: object) -> None:
    adapter = TypeAdapter(money)
    assert adapter.validate_python(PENCE_MAX) == PENCE_MAX
    with pytest.raises(ValidationError, match=f"less than or equal to {PENCE_MAX}"):
        adapter.validate_python(PENCE_MAX + 1)


def test_signed_pence_refuses_a_balance_below_minus_the_limit() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to"):
        TypeAdapter(SignedPence).validate_python(-PENCE_MAX - 1)


def _settlement(*amounts: int) -> dict[str, object]:
    return {
        "place_id": "GM",
        "settlement_id": "S-1",
        "department_code": "DWP",
        "funding_stream_code": "WORK",
        "spending_review_period": "SR25",
        "profile": [
            {"financial_year": f"{2026 + index}-{27 + index}", "amount_pence": amount}
            for index, amount in enumerate(amounts)
        ],
    }


def test_a_settlement_of_the_largest_int64_is_refused_naming_the_field_and_limit() -> None:
    with pytest.raises(ValidationError) as raised:
        RecordSettlement.model_validate(_settlement(9_223_372_036_854_775_807))
    errors = {error["loc"]: error for error in raised.value.errors()}
    assert str(PENCE_MAX) in errors[("profile", 0, "amount_pence")]["msg"]


def test_a_profile_whose_years_add_up_over_the_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="over the limit of 9007199254740991 pence"):
        RecordSettlement.model_validate(_settlement(PENCE_MAX, 1))


def test_a_profile_adding_up_to_exactly_the_limit_is_accepted() -> None:
    settlement = RecordSettlement.model_validate(_settlement(PENCE_MAX - 1, 1))
    assert settlement.total_pence == PENCE_MAX


def test_adding_the_money_bounds_is_compatible_but_changing_them_is_not() -> None:
    committed = load_snapshot()
    schema = committed["events"]["RecordReceipt"]["schema"]
    amount = schema["properties"]["amount_pence"]
    assert amount["maximum"] == PENCE_MAX
    changed = {**amount, "maximum": PENCE_MAX - 1}
    new = {
        **committed,
        "events": {
            **committed["events"],
            "RecordReceipt": {
                **committed["events"]["RecordReceipt"],
                "schema": {
                    **schema,
                    "properties": {**schema["properties"], "amount_pence": changed},
                },
            },
        },
    }
    assert breaking_changes(committed, new) == [
        f"RecordReceipt.amount_pence: type changed from {_sig(amount)} to {_sig(changed)}"
    ]
    unbounded = {key: value for key, value in amount.items() if key != "maximum"}
    old = {
        **committed,
        "events": {
            **committed["events"],
            "RecordReceipt": {
                **committed["events"]["RecordReceipt"],
                "schema": {
                    **schema,
                    "properties": {**schema["properties"], "amount_pence": unbounded},
                },
            },
        },
    }
    assert breaking_changes(old, committed) == []


def _sig(schema: dict[str, object]) -> str:
    import json

    return json.dumps({k: v for k, v in schema.items() if k not in {"title"}}, sort_keys=True)

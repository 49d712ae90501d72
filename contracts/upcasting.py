"""Upcasters: functions that turn an old version of an event's payload into the next version."""

from collections.abc import Callable
from typing import Any

from contracts.base import event_class
from contracts.errors import InvalidPayload, UnsupportedSchemaVersion

Payload = dict[str, Any]


def upcast_record_settlement_v1_v2(payload: Payload) -> Payload:
    """RecordSettlement v1 held one year's amount; v2 holds a profile of amounts per year."""
    upgraded = dict(payload)
    amount_pence = upgraded.pop("amount_pence")
    financial_year = upgraded.pop("financial_year")
    upgraded["profile"] = [{"financial_year": financial_year, "amount_pence": amount_pence}]
    return upgraded


def upcast_request_rejected_v1_v2(payload: Payload) -> Payload:
    """RequestRejected v2 is the one refusal shape: the request's type and id as the command and
    its subject, and a rule (v1 events written before rules were named broke a ledger rule)."""
    upgraded = dict(payload)
    upgraded["command_type"] = upgraded["request_event_type"]
    upgraded["subject_id"] = upgraded["request_id"]
    upgraded["rule"] = upgraded.get("rule") or "ledger_rule"
    return upgraded


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("RecordSettlement", 1): upcast_record_settlement_v1_v2,
    ("RequestRejected", 1): upcast_request_rejected_v1_v2,
}
"""(event_type, from_version) -> a function returning the payload at from_version + 1."""


def upcast(event_type: str, schema_version: int, payload: Payload) -> Payload:
    """Bring a payload from schema_version up to the version its event class is at now."""
    current_version = event_class(event_type).schema_version
    if schema_version > current_version:
        raise UnsupportedSchemaVersion(
            f"{event_type} schema_version {schema_version} is newer than the "
            f"{current_version} this code knows; upgrade the contracts package"
        )
    for version in range(schema_version, current_version):
        payload = _apply(_upcaster(event_type, version), event_type, version, payload)
    return payload


def _apply(
    upcaster: Callable[[Payload], Payload], event_type: str, version: int, payload: Payload
) -> Payload:
    try:
        return upcaster(payload)
    except KeyError as missing:
        raise InvalidPayload(
            f"invalid {event_type} schema_version {version} payload: field {missing} is missing"
        ) from None


def _upcaster(event_type: str, from_version: int) -> Callable[[Payload], Payload]:
    try:
        return UPCASTERS[(event_type, from_version)]
    except KeyError:
        raise UnsupportedSchemaVersion(
            f"no upcaster for {event_type} from schema_version {from_version} to {from_version + 1}"
        ) from None

"""Upcasters: functions that turn an old version of an event's payload into the next version,
and the event types now read as another type (`RENAMED`), so that every message ever
published, on a topic or still waiting in an outbox, reads as a class this code knows."""

from collections.abc import Callable
from dataclasses import dataclass
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


def upcast_command_refused_v1_v2(payload: Payload) -> Payload:
    """CommandRefused v1 was the allocations service's own refusal; v2 is every service's, and
    names who decided."""
    return {**payload, "decided_by": "allocations"}


def command_refused_from_outcomes(payload: Payload) -> Payload:
    """OutcomesCommandRefused v1 is CommandRefused v2 decided by the outcomes service."""
    return {**payload, "decided_by": "outcomes"}


def command_refused_from_ledger(payload: Payload) -> Payload:
    """RequestRejected v2 is CommandRefused v2 decided by the ledger; its `request_*` fields
    only repeated `command_type` and `subject_id`."""
    converted = {key: value for key, value in payload.items() if not key.startswith("request_")}
    return {**converted, "decided_by": "ledger"}


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("RecordSettlement", 1): upcast_record_settlement_v1_v2,
    ("RequestRejected", 1): upcast_request_rejected_v1_v2,
    ("CommandRefused", 1): upcast_command_refused_v1_v2,
}
"""(event_type, from_version) -> a function returning the payload at from_version + 1."""


@dataclass(frozen=True)
class Renamed:
    """An event type no longer published, read as `read_as`: its payload at `last_version` (older
    versions are upcast to it first) becomes `read_as`'s payload at `read_as_version`."""

    read_as: str
    last_version: int
    read_as_version: int
    convert: Callable[[Payload], Payload]


RENAMED: dict[str, Renamed] = {
    "OutcomesCommandRefused": Renamed("CommandRefused", 1, 2, command_refused_from_outcomes),
    "RequestRejected": Renamed("CommandRefused", 2, 2, command_refused_from_ledger),
}
"""Former event type -> how its messages read as the type that replaced it (the one refusal
event, `contracts.decisions.CommandRefused`). A rolling deploy upgrades consumers first, so
every reader knows the new type before any producer sends it."""


def read_as_current(event_type: str, schema_version: int, payload: Payload) -> tuple[str, Payload]:
    """The event type a message is read as now, and its payload at that type's version."""
    renamed = RENAMED.get(event_type)
    if renamed is not None:
        if schema_version > renamed.last_version:
            raise UnsupportedSchemaVersion(
                f"{event_type} schema_version {schema_version} is newer than its last version "
                f"{renamed.last_version}, which this code reads as {renamed.read_as}"
            )
        for version in range(schema_version, renamed.last_version):
            payload = _apply(_upcaster(event_type, version), event_type, version, payload)
        payload = _apply(renamed.convert, event_type, renamed.last_version, payload)
        event_type, schema_version = renamed.read_as, renamed.read_as_version
    return event_type, upcast(event_type, schema_version, payload)


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

"""The shared contracts between services: event models, topic names and the money type."""

from contracts.envelope import Envelope, decode, encode, unwrap, wrap
from contracts.errors import (
    ContractError,
    InvalidEnvelope,
    InvalidPayload,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from contracts.events import *  # noqa: F403  (events.__all__ is the list of models)
from contracts.events import __all__ as _event_names
from contracts.money import PENCE_MAX, Pence, PositivePence, SignedPence, format_pounds
from contracts.topics import ALL_TOPICS, prefixed
from contracts.upcasting import UPCASTERS, upcast

__all__ = [
    *_event_names,
    "ALL_TOPICS",
    "UPCASTERS",
    "ContractError",
    "Envelope",
    "InvalidEnvelope",
    "InvalidPayload",
    "PENCE_MAX",
    "Pence",
    "PositivePence",
    "SignedPence",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "decode",
    "encode",
    "format_pounds",
    "prefixed",
    "unwrap",
    "upcast",
    "wrap",
]

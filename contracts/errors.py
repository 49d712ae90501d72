"""Errors raised when a message does not fit the shared contracts."""


class ContractError(Exception):
    """A message does not fit the shared contracts."""


class UnknownEventType(ContractError):
    """No event class is registered under this event type."""


class UnsupportedSchemaVersion(ContractError):
    """The schema version is newer than this code knows, or no upcaster reaches the current one."""


class InvalidPayload(ContractError):
    """The payload does not validate against its event class."""


class InvalidEnvelope(ContractError):
    """The raw message is not valid JSON or not a valid envelope."""

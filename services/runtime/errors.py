"""Errors of the shared runtime."""


class RuntimeFailure(Exception):
    """The singlepot runtime failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class ConfigurationError(RuntimeFailure):
    """The configuration is wrong; the message says what to change."""

"""Errors of the gateway service."""


class GatewayError(Exception):
    """The gateway could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)

"""The gateway's root error: every error the gateway raises on purpose derives from it (a refused
request, a refused password or webhook URL, a default secret, a missing sign-in), so a caller
can catch the gateway's own refusals apart from bugs."""


class GatewayError(Exception):
    """The gateway could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)

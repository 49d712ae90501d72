"""Errors of the ledger service."""


class LedgerError(Exception):
    """The ledger could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class LedgerRejection(LedgerError):
    """The request breaks a ledger rule; the message says which, with the numbers."""

    def __init__(self, message: str, *, unreserved_pence: int = 0) -> None:
        super().__init__(message)
        self.unreserved_pence = unreserved_pence

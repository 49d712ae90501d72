"""Errors of the ledger service."""


class LedgerError(Exception):
    """The ledger could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class LedgerRejection(LedgerError):
    """The request breaks a ledger rule; the message says which, with the numbers.

    `rule` names the rule and `figures` carries its numbers, for the shared refusal shape
    (contracts.refusals); rules not yet named are "ledger_rule"."""

    def __init__(
        self,
        message: str,
        *,
        unreserved_pence: int = 0,
        rule: str = "ledger_rule",
        figures: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.unreserved_pence = unreserved_pence
        self.rule = rule
        self.figures = figures or {}

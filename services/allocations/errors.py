"""Errors of the allocations service."""


class AllocationsError(Exception):
    """The allocations service could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class IllegalTransition(AllocationsError):
    """An allocation cannot move from its current status to the one asked for."""


class Refused(AllocationsError):
    """A command breaks one of the place's rules; `rule` names it and the message gives the
    numbers. Raised inside the domain's rules; the domain's `decide_*` functions return it as a
    refused `Decision`, which handlers publish as a CommandRefused event, writing nothing else."""

    def __init__(self, rule: str, message: str, figures: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.figures = figures or {}

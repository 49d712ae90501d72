"""A clawback on the spend topic: the ledger publishes a recovery on `ledger.spend.v1` as
negative spend, with every department's (negative) share, beside `SpendRecorded`.

Its fields are those of a spend record as the gateway's feed, Server-Sent Events and webhooks
show a recovery (`kind: "recovery"`, `spend_id: "recovery/<transfer_id>"`, negative amounts),
so a department consuming the topic directly reads the same record as one using the gateway.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.base import Event
from contracts.topics import LEDGER_SPEND
from contracts.values import FinancialYear, Identifier, Text, ValueObject

NegativePence = Annotated[int, Field(lt=0, strict=True)]
"""An amount of money in pence taken back: below zero."""


class RecoveredShare(ValueObject):
    """The part of a recovery that went back to one department's funding stream, negative."""

    department_code: Identifier
    funding_stream_code: Identifier
    amount_pence: NegativePence


class SpendRecovered(Event):
    """Spend was taken back from a provider (a clawback): negative spend, each department's
    share of it negative too, adding up to the amount to the penny."""

    topic = LEDGER_SPEND

    kind: Literal["recovery"] = "recovery"
    spend_id: Identifier
    recovery_id: Identifier
    payment_id: Identifier
    allocation_id: Identifier
    provider_id: Identifier
    contract_id: Identifier | None
    payment_kind: Identifier | None
    purpose: Text
    financial_year: FinancialYear
    amount_pence: NegativePence
    attribution: tuple[RecoveredShare, ...] = Field(min_length=1)
    transfer_id: Identifier

    @model_validator(mode="after")
    def _shares_add_up(self) -> SpendRecovered:
        shares_pence = sum(share.amount_pence for share in self.attribution)
        if shares_pence != self.amount_pence:
            raise ValueError(
                f"attribution shares add up to {shares_pence} pence but amount_pence is "
                f"{self.amount_pence}"
            )
        return self

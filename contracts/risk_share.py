"""The year-end risk share of a pooled budget: the request to the ledger and its result.

A pooling agreement (Better Care Fund / section 75 practice) says how the partners share what
the pool used in a year: equally, in proportion to what each contributed, or in agreed shares.
The ledger compares what each partner's own streams bore with the partner's agreed share and
moves unreserved money between the partners' streams, in one balanced transfer, so each bears
its agreed share; the result carries every partner's figures for the partner returns.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from contracts.base import Event
from contracts.money import Pence, SignedPence
from contracts.topics import LEDGER_REQUESTS, LEDGER_RESULTS
from contracts.values import FinancialYear, Identifier, ValueObject

RiskShareRule = Literal["equal", "contributions", "agreed"]
"""equal: each partner bears the same share; contributions: in proportion to what each settled
into the year; agreed: in the basis points the agreement gives each partner."""
BASIS_POINTS_WHOLE = 10_000
BasisPoints = Annotated[int, Strict(), Field(ge=0, le=BASIS_POINTS_WHOLE)]


class AgreedShare(ValueObject):
    """One partner's share under an `agreed` rule, in basis points (5000 is 50%)."""

    department_code: Identifier
    basis_points: BasisPoints


class ApplyRiskShare(Event):
    """Apply the pooling agreement's risk share to a year (once per year, before it closes)."""

    topic = LEDGER_REQUESTS

    risk_share_id: Identifier
    financial_year: FinancialYear
    rule: RiskShareRule
    agreed_shares: tuple[AgreedShare, ...] = ()
    agreement_reference: Identifier

    @model_validator(mode="after")
    def _shares_fit_the_rule(self) -> ApplyRiskShare:
        if self.rule == "agreed":
            total = sum(share.basis_points for share in self.agreed_shares)
            if total != BASIS_POINTS_WHOLE:
                raise ValueError(f"agreed shares must add up to 10000 basis points, not {total}")
            codes = [share.department_code for share in self.agreed_shares]
            if len(set(codes)) != len(codes):
                raise ValueError("agreed shares name a partner more than once")
        elif self.agreed_shares:
            raise ValueError("agreed_shares are given only with the rule 'agreed'")
        return self


class RiskSharePartner(ValueObject):
    """One partner's year under the risk share: what it contributed, what its own streams bore
    (drawn from the pot: paid or still reserved), its agreed share of what the pool bore, and
    the adjustment moved to it (positive) or from it (negative)."""

    department_code: Identifier
    contributed_pence: Pence
    borne_pence: Pence
    agreed_share_pence: Pence
    adjustment_pence: SignedPence


class StreamMove(ValueObject):
    """Money the risk share moved into (positive) or out of (negative) one partner's stream."""

    department_code: Identifier
    funding_stream_code: Identifier
    amount_pence: SignedPence


class RiskShareApplied(Event):
    """The ledger applied a year's risk share: the partners' figures and the stream moves of its
    transfer (`transfer_id`, absent when every partner already bore its share)."""

    topic = LEDGER_RESULTS

    risk_share_id: Identifier
    financial_year: FinancialYear
    rule: RiskShareRule
    agreement_reference: Identifier
    pool_borne_pence: Pence
    partners: tuple[RiskSharePartner, ...]
    moves: tuple[StreamMove, ...]
    transfer_id: Identifier | None = None

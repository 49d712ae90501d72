"""Every command the gateway accepts over HTTP, as one table: the path, the contract class it
becomes, the permission it needs, and how its subject (the provider or claimant a provider may
act for) is found. Adding an endpoint is adding one `CommandRoute` line to `COMMAND_ROUTES`.

Ledger requests that only services send (reservations, releases, payments, recoveries) have no
endpoint: no person may move reserved money directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from contracts import (
    ApplyRiskShare,
    ClosePeriod,
    DecideAllocation,
    Event,
    ProposeAllocation,
    RecordReceipt,
    RecordSettlement,
    RegisterOutcomesContract,
    SubmitEvidence,
    VirementRequested,
)
from contracts.allocations import (
    AdoptLocalReformPlan,
    CancelAllocation,
    CastVote,
    CloseVote,
    ConfigureBoard,
    DeclareInterest,
    LodgeClaim,
    ProcessDueWork,
    ProposeVariation,
    RespondToClaim,
    SetDecisionRules,
    SetEarmark,
    SignOffAllocation,
)
from contracts.outcomes import (
    AmendMetric,
    ClawBackClaim,
    RecordEngagements,
    RecordInvestorFlow,
    RecordReferrals,
    RecordVerificationDecision,
    SubmitOpenBook,
)
from services.gateway.domain import Permission

# Contract fields that always say who did something: the gateway fills them from the caller's
# token, so every command records its actor and nobody acts in someone else's name.
ACTOR_FIELDS = frozenset(
    {
        "proposed_by",
        "decided_by",
        "closed_by",
        "cancelled_by",
        "responded_by",
        "raised_by",
        "verifier_id",
    }
)

_PATH_FIELD = re.compile(r"{(\w+)}")


class Subject(StrEnum):
    """How the subject a subject-bound role (a provider) is checked against is found."""

    NONE = "none"  # place-scoped only (finance, board, accounting officer, ...)
    CONTRACT_PROVIDER = "contract_provider"  # the provider of the contract in the path
    CLAIMANT = "claimant"  # the claimant_id in the body


@dataclass(frozen=True)
class CommandRoute:
    """One command endpoint: POST /api/v1<path> → `command`, needing `permission`."""

    path: str
    command: type[Event]
    permission: Permission
    subject: Subject = Subject.NONE
    # Fields that name the actor for this command only (e.g. a voting member's member_id).
    own_actor_fields: tuple[str, ...] = ()

    @property
    def path_fields(self) -> tuple[str, ...]:
        """The ids taken from the path; they win over (and must agree with) the body."""
        return tuple(_PATH_FIELD.findall(self.path))

    @property
    def actor_fields(self) -> tuple[str, ...]:
        names = (ACTOR_FIELDS | set(self.own_actor_fields)) & set(self.command.model_fields)
        return tuple(sorted(names))

    @property
    def tag(self) -> str:
        return self.command.topic.split(".")[0]


P = Permission
S = Subject
PLACE = "/places/{place_id}"
ALLOCATION = f"{PLACE}/allocations/{{allocation_id}}"
CONTRACT = f"{PLACE}/outcomes-contracts/{{contract_id}}"

COMMAND_ROUTES: tuple[CommandRoute, ...] = (
    # The ledger: requests a person may make.
    CommandRoute(f"{PLACE}/settlements", RecordSettlement, P.RECORD_SETTLEMENT),
    CommandRoute(f"{PLACE}/receipts", RecordReceipt, P.RECORD_RECEIPT),
    CommandRoute(f"{PLACE}/periods/{{financial_year}}/close", ClosePeriod, P.CLOSE_PERIOD),
    CommandRoute(f"{PLACE}/virements", VirementRequested, P.REQUEST_VIREMENT),
    # The pooling agreement's year-end risk share (services/ledger/domain.py apply_risk_share).
    CommandRoute(
        f"{PLACE}/periods/{{financial_year}}/risk-share", ApplyRiskShare, P.APPROVE_RETURNS
    ),
    # The board: how it is made up and decides, its plan and earmarks.
    CommandRoute(f"{PLACE}/board", ConfigureBoard, P.MANAGE_BOARD),
    CommandRoute(f"{PLACE}/decision-rules", SetDecisionRules, P.MANAGE_BOARD),
    CommandRoute(f"{PLACE}/plans", AdoptLocalReformPlan, P.MANAGE_BOARD),
    CommandRoute(f"{PLACE}/earmarks", SetEarmark, P.MANAGE_BOARD),
    CommandRoute(f"{PLACE}/interests", DeclareInterest, P.DECLARE_INTEREST, S.NONE, ("member_id",)),
    # Allocations: proposals, votes, decisions, sign-off, variations, cancellation.
    CommandRoute(f"{PLACE}/allocations", ProposeAllocation, P.PROPOSE_ALLOCATION),
    CommandRoute(f"{ALLOCATION}/votes", CastVote, P.VOTE, S.NONE, ("member_id",)),
    CommandRoute(f"{ALLOCATION}/votes/close", CloseVote, P.CLOSE_VOTE),
    CommandRoute(f"{ALLOCATION}/decision", DecideAllocation, P.DECIDE_ALLOCATION),
    CommandRoute(
        f"{ALLOCATION}/sign-off",
        SignOffAllocation,
        P.SIGN_OFF_ALLOCATION,
        S.NONE,
        ("accounting_officer_id",),
    ),
    CommandRoute(f"{ALLOCATION}/variations", ProposeVariation, P.PROPOSE_ALLOCATION),
    CommandRoute(f"{ALLOCATION}/cancel", CancelAllocation, P.CANCEL_ALLOCATION),
    # Right to Serve / Right to Request claims, and the daily due-work run.
    CommandRoute(f"{PLACE}/claims", LodgeClaim, P.LODGE_CLAIM, S.CLAIMANT),
    CommandRoute(f"{PLACE}/claims/{{claim_id}}/response", RespondToClaim, P.RESPOND_TO_CLAIM),
    CommandRoute(f"{PLACE}/due-work", ProcessDueWork, P.RUN_DUE_WORK),
    # Outcomes contracts, their evidence, verification and what providers report.
    CommandRoute(f"{PLACE}/outcomes-contracts", RegisterOutcomesContract, P.REGISTER_CONTRACT),
    CommandRoute(f"{CONTRACT}/metric-amendments", AmendMetric, P.AMEND_METRIC),
    CommandRoute(f"{CONTRACT}/evidence", SubmitEvidence, P.SUBMIT_EVIDENCE, S.CONTRACT_PROVIDER),
    CommandRoute(
        f"{CONTRACT}/verification-decisions", RecordVerificationDecision, P.VERIFY_EVIDENCE
    ),
    CommandRoute(f"{CONTRACT}/clawbacks", ClawBackClaim, P.CLAW_BACK),
    CommandRoute(f"{CONTRACT}/referrals", RecordReferrals, P.REPORT_DELIVERY, S.CONTRACT_PROVIDER),
    CommandRoute(
        f"{CONTRACT}/engagements", RecordEngagements, P.REPORT_DELIVERY, S.CONTRACT_PROVIDER
    ),
    CommandRoute(f"{CONTRACT}/open-book", SubmitOpenBook, P.REPORT_DELIVERY, S.CONTRACT_PROVIDER),
    CommandRoute(f"{CONTRACT}/investor-flows", RecordInvestorFlow, P.RECORD_INVESTOR_FLOW),
)

# Requests on command topics that only services send; a test checks every other command class
# has a route above, so a command added to contracts/ without an endpoint is noticed.
SERVICE_ONLY_COMMANDS = frozenset(
    {
        "ReservationRequested",
        "ReservationReleaseRequested",
        "PaymentRequested",
        "RecoveryRaised",
        "ReservationTransferRequested",
        # Sent by the gateway's monitoring room (services/gateway/monitoring), never posted.
        "RecordGrantReporting",
        "PayGrantClaim",
        # Sent by the gateway's citizens room when a participatory budgeting round is counted.
        "SettleParticipatoryRound",
    }
)

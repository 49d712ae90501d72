"""The allocations service's pure rules: boards and their decision rules, proposals, votes,
sign-off, earmarks, variations, endings, grant instalments and Right to Serve claims.

No I/O here. Each command has a `decide_*` function (at the bottom) that takes the state its
handler loaded and returns a `contracts.decisions.Decision`: the new state with the events to
publish, or the rule broken with a sentence and the figures. The rules it is built from raise
`Refused` where a check fails, and `_decides` turns that into the refused decision. Money is
integer pence; shares are basis points (1% = 100) so that no float ever decides anything.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import ParamSpec, TypeVar

from contracts import Event, format_pounds
from contracts.allocations import (
    AdoptLocalReformPlan,
    AllocationApproved,
    AllocationCancelled,
    AllocationExpired,
    AllocationFunded,
    AllocationProposed,
    AllocationRejected,
    AllocationSignedOff,
    AllocationSignOffRefused,
    AllocationType,
    AllocationUnfunded,
    AllocationVaried,
    BoardConfigured,
    BoardDecisionRecorded,
    CancelAllocation,
    CastVote,
    CitizenInvolvement,
    ClaimLodged,
    ClaimOverdue,
    ClaimResponded,
    CloseVote,
    ConfigureBoard,
    DecideAllocation,
    DecisionRulesSet,
    DeclareInterest,
    EarmarkSet,
    Instalment,
    InstalmentFellDue,
    InstalmentPaid,
    InstalmentRetried,
    InstalmentUnpaid,
    InstalmentUnpayable,
    InterestDeclared,
    LocalReformPlanAdopted,
    LodgeClaim,
    ProcessDueWork,
    ProposeAllocation,
    ProposeVariation,
    ReleaseRefused,
    RespondToClaim,
    SetDecisionRules,
    SetEarmark,
    SignOffAllocation,
    VariationProposed,
    VariationRejected,
    VoteRecorded,
)
from contracts.decisions import Decision
from contracts.ledger import (
    FundingStream,
    PaymentRequested,
    ReleaseReason,
    ReservationReleaseRequested,
    ReservationRequested,
)
from services.allocations.errors import IllegalTransition, Refused

Arguments = ParamSpec("Arguments")
State = TypeVar("State")

BASIS_POINTS_WHOLE = 10_000
IDENTIFIER_LENGTH_MAX = 128

# Allocation statuses.
PROPOSED = "proposed"
REJECTED = "rejected"
AWAITING_SIGN_OFF = "awaiting_sign_off"
SIGN_OFF_REFUSED = "sign_off_refused"
RESERVATION_REQUESTED = "reservation_requested"
FUNDED = "funded"
UNFUNDED = "unfunded"
CANCELLED = "cancelled"
EXPIRED = "expired"

# The only moves an allocation may make. Funding is the ledger's answer, so only an allocation
# whose reservation was requested can become funded or unfunded; nothing rolls over, so every
# allocation still running can expire.
NEXT_STATUSES: dict[str, frozenset[str]] = {
    PROPOSED: frozenset({AWAITING_SIGN_OFF, RESERVATION_REQUESTED, REJECTED, CANCELLED, EXPIRED}),
    AWAITING_SIGN_OFF: frozenset({RESERVATION_REQUESTED, SIGN_OFF_REFUSED, CANCELLED, EXPIRED}),
    RESERVATION_REQUESTED: frozenset({FUNDED, UNFUNDED, CANCELLED, EXPIRED}),
    FUNDED: frozenset({CANCELLED, EXPIRED}),
    REJECTED: frozenset(),
    SIGN_OFF_REFUSED: frozenset(),
    UNFUNDED: frozenset(),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
}
ENDED = frozenset({CANCELLED, EXPIRED})
# Allocations whose value counts against the year's pot when earmarks are checked.
COMMITTED = frozenset({AWAITING_SIGN_OFF, RESERVATION_REQUESTED, FUNDED})

# Instalment and variation and claim statuses.
SCHEDULED, REQUESTED, PAID, NOT_PAID = "scheduled", "requested", "paid", "unpaid"
VARIATION_PROPOSED, VARIATION_APPLIED, VARIATION_REJECTED = "proposed", "applied", "rejected"
CLAIM_OPEN, CLAIM_ANSWERED = "open", "answered"


# --- The place: board, rules, interests, missions, earmarks -------------------------------------


@dataclass(frozen=True)
class Member:
    member_id: str
    seat: str
    voting: bool


@dataclass(frozen=True)
class Board:
    """A place's Public Service Reform Board, as of one version of its composition."""

    version: int
    chair_id: str
    chair_role: str
    accounting_officer_id: str
    members: tuple[Member, ...]

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    @property
    def voting_member_ids(self) -> tuple[str, ...]:
        return tuple(m.member_id for m in self.members if m.voting)


@dataclass(frozen=True)
class Rules:
    """A place's decision rules, as of one version."""

    version: int
    quorum_members: int
    majority: str
    sign_off_threshold_pence: int
    proposer_ids: tuple[str, ...]
    proposer_seats: tuple[str, ...]
    claim_response_days: int


# Rules in force before a place sets its own (version 0): one vote is a quorum, a simple
# majority decides, and the accounting officer signs off anything above £100,000 (GovS 015).
DEFAULT_RULES = Rules(0, 1, "simple", 10_000_000, (), (), 56)


@dataclass(frozen=True)
class Interest:
    interest_id: str
    member_id: str
    recipient_id: str | None
    allocation_id: str | None
    description: str


@dataclass(frozen=True)
class Earmark:
    earmark_id: str
    kind: str
    purpose_tag: str
    minimum_share_basis_points: int | None
    department_code: str | None
    funding_stream_code: str | None
    reason: str


@dataclass(frozen=True)
class Place:
    """What the rules of one place need to know, loaded once per command."""

    place_id: str
    board: Board | None
    rules: Rules
    # Missions of every adopted Local Reform Plan; empty while no plan is adopted.
    mission_ids: frozenset[str]
    earmarks: tuple[Earmark, ...]


@dataclass(frozen=True)
class StreamSettled:
    department_code: str
    funding_stream_code: str
    settled_pence: int


@dataclass(frozen=True)
class Committed:
    """One allocation's claim on a year's pot, for earmark checks."""

    allocation_id: str
    counted_pence: int
    purpose_tags: tuple[str, ...]


@dataclass(frozen=True)
class YearBook:
    """A financial year of a place's pot: what each stream settled and what is committed."""

    financial_year: str
    streams: tuple[StreamSettled, ...]
    committed: tuple[Committed, ...]

    @property
    def pot_pence(self) -> int:
        return sum(stream.settled_pence for stream in self.streams)


def next_version(current: int | None, incoming: int, what: str, same: bool) -> bool:
    """True if `incoming` is the next version; False if it repeats the current one unchanged
    (nothing to do); Refused otherwise."""
    current_version = current or 0
    if incoming == current_version and same:
        return False
    if incoming != current_version + 1:
        raise Refused(
            f"{what}_version",
            f"{what} version {incoming} must be the next one: the current version is "
            f"{current_version}, so the next is {current_version + 1}",
        )
    return True


def check_interest(board: Board | None, place_id: str, member_id: str) -> None:
    """Only a member of the place's board declares an interest here."""
    if board is None or board.member(member_id) is None:
        raise Refused("board_member", f"{member_id} is not a member of {place_id}'s board")


def check_missions_new(existing: frozenset[str], missions: Iterable[str], plan_id: str) -> None:
    clashing = sorted(set(missions) & existing)
    if clashing:
        raise Refused(
            "mission_unique",
            f"plan {plan_id} repeats missions already in an adopted plan: {', '.join(clashing)}",
        )


# --- Proposals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """What the board is asked to commit, as proposed; the allocation id is its idempotency key."""

    allocation_id: str
    allocation_type: AllocationType
    recipient_id: str
    purpose: str
    mission_id: str
    start_date: date
    end_date: date
    value_pence: int
    financial_year: str
    proposed_by: str
    instalments: tuple[Instalment, ...] = ()
    purpose_tags: tuple[str, ...] = ()
    citizen_involvement: tuple[CitizenInvolvement, ...] = ()
    funding_streams: tuple[FundingStream, ...] = ()
    excluded_funding_streams: tuple[FundingStream, ...] = ()


@dataclass(frozen=True)
class ScheduledInstalment:
    number: int
    due_date: date
    amount_pence: int
    status: str = SCHEDULED
    # Requests made again after a refusal; each has its own payment id (see payment_id_for).
    attempt: int = 0
    # Refused under a rule that more money may pass: the next due-work run after money came
    # into the reservation (it holds more than at the refusal) asks again.
    awaiting_retry: bool = False
    available_at_refusal_pence: int = 0


@dataclass(frozen=True)
class Allocation:
    """A proposal, where it has got to, its terms as varied, and its money as the ledger says."""

    place_id: str
    proposal: Proposal
    status: str
    value_pence: int
    end_date: date
    purpose: str
    purpose_tags: tuple[str, ...]
    instalments: tuple[ScheduledInstalment, ...]
    rules_version: int | None = None
    status_reason: str | None = None
    reserved_pence: int = 0
    paid_pence: int = 0
    recovered_pence: int = 0
    release_requested_pence: int = 0
    released_pence: int = 0
    # A value_up variation whose extra reservation the ledger has not answered yet.
    pending_increase_pence: int = 0
    pending_variation_id: str | None = None

    @property
    def allocation_id(self) -> str:
        return self.proposal.allocation_id

    @property
    def in_flight_pence(self) -> int:
        """Instalments requested from the ledger and not yet answered."""
        return sum(i.amount_pence for i in self.instalments if i.status == REQUESTED)

    @property
    def spent_pence(self) -> int:
        return self.paid_pence - self.recovered_pence

    @property
    def unspent_pence(self) -> int:
        """What is still reserved and neither paid, on its way to being paid, nor released."""
        return (
            self.reserved_pence
            + self.recovered_pence
            - self.paid_pence
            - self.in_flight_pence
            - self.release_requested_pence
        )

    @property
    def reservation_left_pence(self) -> int:
        """What the ledger's reservation still holds for payments: reserved, less paid, in
        flight and released. Unlike `unspent_pence` it leaves recoveries out: the ledger returns
        a recovery to the pot, not to the reservation, so only a rise adds to it."""
        return (
            self.reserved_pence
            - self.paid_pence
            - self.in_flight_pence
            - self.release_requested_pence
        )

    @property
    def counted_pence(self) -> int:
        """Its claim on the year's pot for earmarks: the value while committed, what was spent
        once it ended, nothing otherwise."""
        if self.status in COMMITTED:
            return self.value_pence
        if self.status in ENDED:
            return max(self.spent_pence, 0)
        return 0


def differing_fields(existing: Proposal, incoming: Proposal) -> tuple[str, ...]:
    """The names of the fields in which two proposals of the same allocation id disagree."""
    return tuple(
        field.name
        for field in dataclasses.fields(Proposal)
        if getattr(existing, field.name) != getattr(incoming, field.name)
    )


def transition(status: str, new_status: str) -> str:
    """Return `new_status` if an allocation in `status` may move to it, else raise."""
    if new_status not in NEXT_STATUSES.get(status, frozenset()):
        raise IllegalTransition(f"an allocation that is {status} cannot become {new_status}")
    return new_status


def schedule_of(proposal: Proposal) -> tuple[ScheduledInstalment, ...]:
    """A grant's instalments, numbered from 1. A grant proposed without a schedule is paid in
    one instalment on its start date *(choice)*; other types are paid by other means."""
    if proposal.allocation_type != "grant":
        return ()
    instalments = proposal.instalments or (
        Instalment(due_date=proposal.start_date, amount_pence=proposal.value_pence),
    )
    return tuple(
        ScheduledInstalment(number, i.due_date, i.amount_pence)
        for number, i in enumerate(instalments, start=1)
    )


def check_may_propose(place: Place, proposer_id: str) -> None:
    """Who may propose is the place's choice: listed ids, members in listed seats, or anyone."""
    rules = place.rules
    if not rules.proposer_ids and not rules.proposer_seats:
        return
    if proposer_id in rules.proposer_ids:
        return
    member = place.board.member(proposer_id) if place.board else None
    if member is not None and member.seat in rules.proposer_seats:
        return
    allowed = [*rules.proposer_ids, *(f"members in the {s} seat" for s in rules.proposer_seats)]
    raise Refused(
        "who_may_propose",
        f"{proposer_id} may not propose in {place.place_id} under rules version "
        f"{rules.version}; proposals come from {', '.join(allowed)}",
    )


def check_mission(place: Place, mission_id: str) -> None:
    """Every allocation names a mission of an adopted plan (once the place has a plan)."""
    if place.mission_ids and mission_id not in place.mission_ids:
        raise Refused(
            "mission",
            f"mission {mission_id} is not in any adopted Local Reform Plan of {place.place_id}; "
            f"its missions are {', '.join(sorted(place.mission_ids))}",
        )


def propose(
    place: Place, existing: Allocation | None, proposal: Proposal, year: YearBook
) -> Allocation | None:
    """A new allocation, or None when the same proposal was already recorded (idempotent)."""
    if existing is not None:
        differences = differing_fields(existing.proposal, proposal)
        if not differences:
            return None
        raise Refused(
            "allocation_id_unique",
            f"allocation {proposal.allocation_id} already exists in {place.place_id}; this "
            f"proposal differs in {', '.join(differences)}: use a new allocation_id",
        )
    check_may_propose(place, proposal.proposed_by)
    check_mission(place, proposal.mission_id)
    check_earmarks(place, year, proposal.allocation_id, proposal.value_pence, proposal.purpose_tags)
    return Allocation(
        place_id=place.place_id,
        proposal=proposal,
        status=PROPOSED,
        value_pence=proposal.value_pence,
        end_date=proposal.end_date,
        purpose=proposal.purpose,
        purpose_tags=proposal.purpose_tags,
        instalments=schedule_of(proposal),
    )


# --- Earmarks ---------------------------------------------------------------------------------


def percent(basis_points: int) -> str:
    """Basis points for people: 2000 -> "20%", 1250 -> "12.5%"."""
    whole, part = divmod(basis_points, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"


def check_earmarks(
    place: Place, year: YearBook, allocation_id: str, value_pence: int, tags: Sequence[str]
) -> None:
    """Refuse an allocation (or its new terms) that would break an earmark of the year's pot."""
    for earmark in place.earmarks:
        if earmark.kind == "minimum_share":
            _check_minimum_share(earmark, year, allocation_id, value_pence, tags)
        else:
            _check_excluded_purpose(earmark, year, value_pence, tags)


def _check_minimum_share(
    earmark: Earmark, year: YearBook, allocation_id: str, value_pence: int, tags: Sequence[str]
) -> None:
    # A tagged allocation only helps the earmark. An untagged one may use the pot only as far
    # as it leaves the minimum share free for the tagged purpose.
    if earmark.department_code and earmark.funding_stream_code:
        _check_stream_minimum_share(earmark, year, allocation_id, value_pence, tags)
        return
    pot_pence = year.pot_pence
    if earmark.purpose_tag in tags or pot_pence == 0:
        return
    share_bp = earmark.minimum_share_basis_points or 0
    needed_pence = -(-pot_pence * share_bp // BASIS_POINTS_WHOLE)
    untagged_pence = value_pence + sum(
        c.counted_pence
        for c in year.committed
        if c.allocation_id != allocation_id and earmark.purpose_tag not in c.purpose_tags
    )
    left_pence = pot_pence - untagged_pence
    if left_pence >= needed_pence:
        return
    left_bp = max(left_pence, 0) * BASIS_POINTS_WHOLE // pot_pence
    raise Refused(
        "earmark_minimum_share",
        f"earmark '{earmark.earmark_id}' keeps at least {percent(share_bp)} of the "
        f"{year.financial_year} pot ({format_pounds(needed_pence)} of "
        f"{format_pounds(pot_pence)}) for '{earmark.purpose_tag}'; after this allocation of "
        f"{format_pounds(value_pence)} only {format_pounds(left_pence)} ({percent(left_bp)}) "
        "would be left for it",
        {
            "pot_pence": pot_pence,
            "needed_pence": needed_pence,
            "value_pence": value_pence,
            "left_pence": left_pence,
        },
    )


def _check_stream_minimum_share(
    earmark: Earmark, year: YearBook, allocation_id: str, value_pence: int, tags: Sequence[str]
) -> None:
    """Of one department's stream, at least the share stays for the tagged purpose ("of
    MHCLG's local growth stream, at least 10% to early intervention"). Untagged allocations draw
    on the stream pro rata to its part of the pot, as the ledger reserves them."""
    pot_pence, stream_pence = year.pot_pence, _stream_pence(earmark, year)
    if earmark.purpose_tag in tags or pot_pence == 0 or stream_pence == 0:
        return
    share_bp = earmark.minimum_share_basis_points or 0
    needed_pence = -(-stream_pence * share_bp // BASIS_POINTS_WHOLE)
    untagged_pence = value_pence + sum(
        c.counted_pence
        for c in year.committed
        if c.allocation_id != allocation_id and earmark.purpose_tag not in c.purpose_tags
    )
    drawn_pence = min(untagged_pence * stream_pence // pot_pence, stream_pence)
    left_pence = stream_pence - drawn_pence
    if left_pence >= needed_pence:
        return
    stream = f"{earmark.department_code}/{earmark.funding_stream_code}"
    raise Refused(
        "earmark_stream_minimum_share",
        f"earmark '{earmark.earmark_id}' keeps at least {percent(share_bp)} of {stream} "
        f"({format_pounds(needed_pence)} of its {format_pounds(stream_pence)} in "
        f"{year.financial_year}) for '{earmark.purpose_tag}'; with this allocation of "
        f"{format_pounds(value_pence)}, allocations for other purposes would draw about "
        f"{format_pounds(drawn_pence)} from it, leaving {format_pounds(left_pence)}",
        {
            "stream_pence": stream_pence,
            "needed_pence": needed_pence,
            "value_pence": value_pence,
            "drawn_pence": drawn_pence,
            "left_pence": left_pence,
        },
    )


def _stream_pence(earmark: Earmark, year: YearBook) -> int:
    return sum(
        s.settled_pence
        for s in year.streams
        if (s.department_code, s.funding_stream_code)
        == (earmark.department_code, earmark.funding_stream_code)
    )


def _check_excluded_purpose(
    earmark: Earmark, year: YearBook, value_pence: int, tags: Sequence[str]
) -> None:
    # The ledger reserves an allocation for the excluded purpose from the pot's other streams
    # only (the reservation request names the excluded stream), so the allocation is refused
    # here only when those other streams did not settle enough to fund it at all.
    if earmark.purpose_tag not in tags or year.pot_pence == 0:
        return
    stream_pence = sum(
        s.settled_pence
        for s in year.streams
        if (s.department_code, s.funding_stream_code)
        == (earmark.department_code, earmark.funding_stream_code)
    )
    eligible_pence = year.pot_pence - stream_pence
    if stream_pence == 0 or value_pence <= eligible_pence:
        return
    raise Refused(
        "earmark_excluded_purpose",
        f"earmark '{earmark.earmark_id}': {earmark.department_code}/"
        f"{earmark.funding_stream_code} may not fund '{earmark.purpose_tag}' "
        f"({earmark.reason}); it holds {format_pounds(stream_pence)} of the "
        f"{year.financial_year} pot, and the other streams settled only "
        f"{format_pounds(eligible_pence)}, less than this allocation of "
        f"{format_pounds(value_pence)}",
        {
            "stream_pence": stream_pence,
            "value_pence": value_pence,
            "eligible_pence": eligible_pence,
        },
    )


def excluded_streams(place: Place, tags: Sequence[str]) -> tuple[FundingStream, ...]:
    """The streams the place's earmarks forbid from funding an allocation with these purpose
    tags, for the ledger to leave out when it reserves (restricted streams)."""
    excluded: set[tuple[str, str]] = set()
    for earmark in place.earmarks:
        department, stream = earmark.department_code, earmark.funding_stream_code
        if earmark.kind == "excluded_purpose" and earmark.purpose_tag in tags:
            if department and stream:
                excluded.add((department, stream))
    return tuple(
        FundingStream(department_code=department, funding_stream_code=stream)
        for department, stream in sorted(excluded)
    )


def funding_rules(
    place: Place, allocation: Allocation, tags: Sequence[str]
) -> dict[str, tuple[FundingStream, ...]]:
    """The funding rules a reservation for the allocation carries to the ledger: the streams its
    proposal named as eligible, and those it or the place's earmarks for its tags exclude."""
    proposal = allocation.proposal
    excluded = {*proposal.excluded_funding_streams, *excluded_streams(place, tags)}
    return {
        "eligible_streams": proposal.funding_streams,
        "excluded_streams": tuple(
            sorted(excluded, key=lambda s: (s.department_code, s.funding_stream_code))
        ),
    }


# --- Votes and decisions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    member_id: str
    vote: str
    rules_version: int
    # Why the member voted so; published with the vote, never counted.
    reason: str | None = None


@dataclass(frozen=True)
class Tally:
    outcome: str
    reason: str
    votes_for: tuple[str, ...]
    votes_against: tuple[str, ...]
    abstentions: tuple[str, ...]
    recused: tuple[str, ...]


def recused_members(
    interests: Iterable[Interest], allocation_id: str, recipient_id: str
) -> dict[str, Interest]:
    """Members with an interest in this allocation or its recipient, and the interest."""
    return {
        i.member_id: i
        for i in interests
        if i.allocation_id == allocation_id or i.recipient_id == recipient_id
    }


def board_of(place: Place) -> Board:
    if place.board is None:
        raise Refused(
            "board_configured",
            f"{place.place_id} has no board yet; configure one with ConfigureBoard",
        )
    return place.board


def check_vote(
    place: Place,
    interests: Iterable[Interest],
    subject: str,
    open_for_votes: bool,
    allocation_id: str,
    recipient_id: str,
    member_id: str,
    previous: Vote | None,
    vote: str,
    reason: str | None = None,
) -> Vote | None:
    """The vote to record, None if the same vote was already recorded, or Refused."""
    board = board_of(place)
    member = board.member(member_id)
    if member is None or not member.voting:
        raise Refused(
            "voting_member",
            f"{member_id} is not a voting member of {place.place_id}'s board "
            f"(version {board.version})",
        )
    if not open_for_votes:
        raise Refused("vote_open", f"{subject} is not open for votes")
    interest = recused_members(interests, allocation_id, recipient_id).get(member_id)
    if interest is not None:
        raise Refused(
            "recusal",
            f"{member_id} declared an interest ({interest.description}) and is recused from "
            f"{subject}; the vote is refused",
        )
    if previous is not None:
        if previous.vote == vote:
            return None
        raise Refused(
            "one_vote_each",
            f"{member_id} already voted {previous.vote!r} on {subject}; a vote cannot be changed",
        )
    return Vote(member_id, vote, place.rules.version, reason)


def tally(
    place: Place,
    interests: Iterable[Interest],
    subject: str,
    allocation_id: str,
    recipient_id: str,
    votes: Sequence[Vote],
) -> Tally:
    """Apply quorum, then majority. Quorum not met is Refused (the vote stays open); a quorate
    vote that lacks the majority is a rejection."""
    board, rules = board_of(place), place.rules
    recused = set(recused_members(interests, allocation_id, recipient_id)) & set(
        board.voting_member_ids
    )
    eligible = [m for m in board.voting_member_ids if m not in recused]
    counted = [v for v in votes if v.member_id in eligible]
    if len(counted) < rules.quorum_members:
        recused_note = f" ({len(recused)} recused)" if recused else ""
        raise Refused(
            "quorum",
            f"quorum not met on {subject}: {len(counted)} of {len(eligible)} eligible voting "
            f"members voted{recused_note}, quorum is {rules.quorum_members} "
            f"(rules version {rules.version})",
        )
    by_choice = {
        choice: tuple(sorted(v.member_id for v in counted if v.vote == choice))
        for choice in ("for", "against", "abstain")
    }
    votes_for, votes_against = len(by_choice["for"]), len(by_choice["against"])
    carried, needs = _majority(rules.majority, votes_for, votes_against)
    figures = (
        f"{votes_for} for, {votes_against} against, {len(by_choice['abstain'])} abstained "
        f"of {len(eligible)} eligible"
    )
    outcome = "approved" if carried else "rejected"
    verdict = "majority reached" if carried else "majority not reached"
    return Tally(
        outcome=outcome,
        reason=f"{verdict} on {subject}: {figures}; {needs} (rules version {rules.version})",
        votes_for=by_choice["for"],
        votes_against=by_choice["against"],
        abstentions=by_choice["abstain"],
        recused=tuple(sorted(recused)),
    )


def _majority(kind: str, votes_for: int, votes_against: int) -> tuple[bool, str]:
    if kind == "two_thirds":
        return (
            votes_for > 0 and 3 * votes_for >= 2 * (votes_for + votes_against),
            "a two-thirds majority needs at least two votes for in every three cast for or against",
        )
    if kind == "unanimous":
        return votes_for > 0 and votes_against == 0, "unanimity needs no vote against"
    return votes_for > votes_against, "a simple majority needs more votes for than against"


def resolution(place: Place, decided_by: str, decision: str, reason: str) -> Tally:
    """A decision taken without recorded votes: only where no board is configured."""
    if place.board is not None:
        raise Refused(
            "votes_required",
            f"{place.place_id} has a board of {len(place.board.voting_member_ids)} voting "
            "members: decisions are taken by CastVote and CloseVote",
        )
    text = reason or f"{decision} by {decided_by} without a stated reason"
    return Tally(
        outcome=decision,
        reason=f"{text} (decided by {decided_by} without recorded votes: no board configured; "
        f"rules version {place.rules.version})",
        votes_for=(),
        votes_against=(),
        abstentions=(),
        recused=(),
    )


def decision_event(
    place: Place, allocation_id: str, variation_id: str | None, result: Tally
) -> BoardDecisionRecorded:
    return BoardDecisionRecorded(
        place_id=place.place_id,
        allocation_id=allocation_id,
        variation_id=variation_id,
        outcome=result.outcome,  # type: ignore[arg-type]
        rules_version=place.rules.version,
        votes_for=result.votes_for,
        votes_against=result.votes_against,
        abstentions=result.abstentions,
        recused=result.recused,
        reason=result.reason,
    )


@dataclass(frozen=True)
class Change:
    """What a rule decided: the allocation as it is now and the events to publish."""

    allocation: Allocation
    events: tuple[Event, ...]


def decide(
    place: Place, allocation: Allocation, year: YearBook, result: Tally, decided_by: str
) -> Change:
    """Apply the board's decision to a proposed allocation. An approval re-checks the earmarks,
    then waits for the accounting officer above the threshold, else asks the ledger to reserve."""
    transition(allocation.status, REJECTED)
    if result.outcome == "rejected":
        return _reject(allocation, result.reason, "majority", place.rules.version)
    try:
        check_earmarks(
            place, year, allocation.allocation_id, allocation.value_pence, allocation.purpose_tags
        )
    except Refused as breach:
        return _reject(allocation, str(breach), breach.rule, place.rules.version)
    needs_sign_off = allocation.value_pence > place.rules.sign_off_threshold_pence
    approved = AllocationApproved(
        place_id=place.place_id,
        allocation_id=allocation.allocation_id,
        allocation_type=allocation.proposal.allocation_type,
        recipient_id=allocation.proposal.recipient_id,
        value_pence=allocation.value_pence,
        financial_year=allocation.proposal.financial_year,
        decided_by=decided_by,
        rules_version=place.rules.version,
        sign_off_required=needs_sign_off,
    )
    decided = replace(allocation, rules_version=place.rules.version)
    if needs_sign_off:
        return Change(replace(decided, status=AWAITING_SIGN_OFF), (approved,))
    return _request_reservation(place, decided, (approved,))


def _reject(allocation: Allocation, reason: str, rule: str, rules_version: int) -> Change:
    rejected = replace(
        allocation, status=REJECTED, status_reason=reason, rules_version=rules_version
    )
    return Change(
        rejected,
        (
            AllocationRejected(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                reason=reason,
                rule=rule,
            ),
        ),
    )


def _request_reservation(place: Place, allocation: Allocation, events: tuple[Event, ...]) -> Change:
    requested = ReservationRequested(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        financial_year=allocation.proposal.financial_year,
        amount_pence=allocation.value_pence,
        purpose=allocation.purpose,
        **funding_rules(place, allocation, allocation.purpose_tags),
    )
    moved = replace(allocation, status=transition(allocation.status, RESERVATION_REQUESTED))
    return Change(moved, (*events, requested))


def check_signer(place: Place, signer_id: str) -> None:
    """Only the place's accounting officer signs off (any named officer while no board is set)."""
    board = place.board
    if board is not None and signer_id != board.accounting_officer_id:
        raise Refused(
            "accounting_officer",
            f"only {place.place_id}'s accounting officer ({board.accounting_officer_id}) may "
            f"sign off; {signer_id} may not",
        )


def sign_off(
    place: Place, allocation: Allocation, signer_id: str, decision: str, reasons: str | None
) -> Change:
    """The accounting officer's answer to an approval over the threshold."""
    check_signer(place, signer_id)
    if allocation.status != AWAITING_SIGN_OFF:
        raise Refused(
            "awaiting_sign_off",
            f"allocation {allocation.allocation_id} is {allocation.status}, not awaiting sign-off",
        )
    if decision == "refused":
        text = reasons or "no reasons given"
        refused = replace(allocation, status=SIGN_OFF_REFUSED, status_reason=text)
        return Change(
            refused,
            (
                AllocationSignOffRefused(
                    place_id=place.place_id,
                    allocation_id=allocation.allocation_id,
                    accounting_officer_id=signer_id,
                    reasons=text,
                ),
            ),
        )
    signed = AllocationSignedOff(
        place_id=place.place_id,
        allocation_id=allocation.allocation_id,
        accounting_officer_id=signer_id,
        value_pence=allocation.value_pence,
    )
    return _request_reservation(place, allocation, (signed,))


# --- The ledger's answers ---------------------------------------------------------------------


def reservation_made(allocation: Allocation, amount_pence: int) -> Change:
    """The ledger reserved money: the first reservation funds the allocation; a later one is a
    variation's increase; one that arrives after the allocation ended is released at once."""
    reserved = replace(allocation, reserved_pence=allocation.reserved_pence + amount_pence)
    if allocation.status == RESERVATION_REQUESTED:
        funded = replace(reserved, status=FUNDED)
        return Change(
            funded,
            (
                AllocationFunded(
                    place_id=allocation.place_id,
                    allocation_id=allocation.allocation_id,
                    amount_pence=amount_pence,
                ),
            ),
        )
    if allocation.status in ENDED:
        return release_unspent(reserved)
    return Change(replace(reserved, pending_increase_pence=0, pending_variation_id=None), ())


def reservation_rejected(allocation: Allocation, reason: str) -> Change:
    """The ledger refused: the allocation is unfunded, or a variation's increase is undone."""
    if allocation.status == RESERVATION_REQUESTED:
        unfunded = replace(allocation, status=UNFUNDED, status_reason=reason)
        return Change(
            unfunded,
            (
                AllocationUnfunded(
                    place_id=allocation.place_id,
                    allocation_id=allocation.allocation_id,
                    reason=reason,
                ),
            ),
        )
    if allocation.pending_increase_pence and allocation.pending_variation_id:
        undone = replace(
            allocation,
            value_pence=allocation.value_pence - allocation.pending_increase_pence,
            pending_increase_pence=0,
            pending_variation_id=None,
        )
        return Change(
            undone,
            (
                VariationRejected(
                    place_id=allocation.place_id,
                    allocation_id=allocation.allocation_id,
                    variation_id=allocation.pending_variation_id,
                    reason=f"the ledger refused the extra reservation: {reason}",
                ),
            ),
        )
    return Change(allocation, ())


def payment_made(allocation: Allocation, payment_id: str, amount_pence: int) -> Change:
    """Any payment from the allocation's reservation (instalment or outcome payment)."""
    paid = replace(allocation, paid_pence=allocation.paid_pence + amount_pence)
    instalment = _instalment_paid(allocation, payment_id)
    if instalment is None:
        return Change(paid, ())
    paid = _with_instalment(paid, replace(instalment, status=PAID))
    return Change(
        paid,
        (
            InstalmentPaid(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                instalment_number=instalment.number,
                payment_id=payment_id,
                amount_pence=amount_pence,
            ),
        ),
    )


RETRYABLE_PAYMENT_RULES = frozenset({"within_reservation"})
"""The ledger's refusals of an instalment that may pass later: the reservation was too small,
and money can come into it (a value_up variation's rise). Any other refusal (a closed
year, no reservation, a rule not named) cannot pass by asking again: finance staff are told."""


def payment_rejected(
    allocation: Allocation, payment_id: str, reason: str, rule: str | None = None
) -> Change:
    """An instalment the ledger refused is unpaid; after the end, its money is released. A
    running allocation's instalment waits for a retry when more money may pass the rule, else
    it is reported as unpayable."""
    instalment = _instalment_paid(allocation, payment_id)
    if instalment is None:
        return Change(allocation, ())
    will_retry = allocation.status == FUNDED and rule in RETRYABLE_PAYMENT_RULES
    refused = replace(instalment, status=NOT_PAID, awaiting_retry=will_retry)
    unpaid = _with_instalment(allocation, refused)
    unpaid = _with_instalment(
        unpaid, replace(refused, available_at_refusal_pence=max(unpaid.reservation_left_pence, 0))
    )
    event = InstalmentUnpaid(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        instalment_number=instalment.number,
        payment_id=payment_id,
        reason=reason,
        rule=rule,
        will_retry=will_retry,
    )
    if allocation.status in ENDED:
        released = release_unspent(unpaid)
        return Change(released.allocation, (event, *released.events))
    if will_retry:
        return Change(unpaid, (event,))
    unpayable = InstalmentUnpayable(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        instalment_number=instalment.number,
        payment_id=payment_id,
        amount_pence=instalment.amount_pence,
        rule=rule or "ledger_rule",
        reason=reason,
    )
    return Change(unpaid, (event, unpayable))


def retry_refused_instalments(allocation: Allocation, as_of: date) -> Change:
    """Ask again for each refused instalment awaiting a retry, once money has come into the
    reservation since the refusal (a rise funded) and what it holds covers the instalment; the
    others wait."""
    if allocation.status != FUNDED:
        return Change(allocation, ())
    events: list[Event] = []
    current = allocation
    for instalment in allocation.instalments:
        if not instalment.awaiting_retry or instalment.status != NOT_PAID:
            continue
        available = max(current.reservation_left_pence, 0)
        if (
            available <= instalment.available_at_refusal_pence
            or available < instalment.amount_pence
        ):
            continue
        attempt = instalment.attempt + 1
        retried = replace(instalment, status=REQUESTED, attempt=attempt, awaiting_retry=False)
        current = _with_instalment(current, retried)
        payment_id = payment_id_for(allocation.allocation_id, instalment.number, attempt)
        events.append(_instalment_payment(allocation, instalment, payment_id))
        events.append(
            InstalmentRetried(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                instalment_number=instalment.number,
                payment_id=payment_id,
                refused_payment_id=payment_id_for(
                    allocation.allocation_id, instalment.number, instalment.attempt
                ),
                amount_pence=instalment.amount_pence,
                available_at_refusal_pence=instalment.available_at_refusal_pence,
                available_pence=available,
                as_of=as_of,
            )
        )
    return Change(current, tuple(events))


def recovery_recorded(allocation: Allocation, amount_pence: int) -> Change:
    """Clawed-back money returns to the allocation's reservation (released if it has ended)."""
    recovered = replace(allocation, recovered_pence=allocation.recovered_pence + amount_pence)
    if allocation.status in ENDED:
        return release_unspent(recovered)
    return Change(recovered, ())


def release_released(allocation: Allocation, amount_pence: int) -> Allocation:
    return replace(allocation, released_pence=allocation.released_pence + amount_pence)


def release_refused(allocation: Allocation, amount_pence: int, reason: str) -> Change:
    """The ledger kept money we asked it to release: count it as reserved again, say so, and
    if the allocation has ended ask again for what is now unspent, unless that is the very
    amount just refused (asking again would only be refused again)."""
    kept = replace(
        allocation, release_requested_pence=allocation.release_requested_pence - amount_pence
    )
    refused = ReleaseRefused(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        amount_pence=amount_pence,
        reason=reason,
    )
    if allocation.status not in ENDED or kept.unspent_pence == amount_pence:
        return Change(kept, (refused,))
    again = release_unspent(kept)
    return Change(again.allocation, (refused, *again.events))


def _instalment_paid(allocation: Allocation, payment_id: str) -> ScheduledInstalment | None:
    return next(
        (
            i
            for i in allocation.instalments
            if payment_id_for(allocation.allocation_id, i.number, i.attempt) == payment_id
            and i.status == REQUESTED
        ),
        None,
    )


def _with_instalment(allocation: Allocation, instalment: ScheduledInstalment) -> Allocation:
    instalments = tuple(
        instalment if i.number == instalment.number else i for i in allocation.instalments
    )
    return replace(allocation, instalments=instalments)


# --- Endings ----------------------------------------------------------------------------------


def release_unspent(allocation: Allocation) -> Change:
    """Ask the ledger to release whatever of an ended allocation's reservation is unspent."""
    unspent_pence = allocation.unspent_pence
    if unspent_pence <= 0:
        return Change(allocation, ())
    reason: ReleaseReason = "cancelled" if allocation.status == CANCELLED else "expired"
    request = ReservationReleaseRequested(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        amount_pence=unspent_pence,
        reason=reason,
    )
    released = replace(
        allocation, release_requested_pence=allocation.release_requested_pence + unspent_pence
    )
    return Change(released, (request,))


def cancel(allocation: Allocation, reason: str) -> Change:
    """Cancel a running allocation and release its unspent reservation."""
    try:
        transition(allocation.status, CANCELLED)
    except IllegalTransition:
        raise Refused(
            "cancellable",
            f"allocation {allocation.allocation_id} is {allocation.status}; only a running "
            "allocation can be cancelled",
        ) from None
    cancelled = replace(allocation, status=CANCELLED, status_reason=reason)
    released = release_unspent(cancelled)
    event = AllocationCancelled(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        reason=reason,
        released_pence=released.allocation.release_requested_pence
        - allocation.release_requested_pence,
    )
    return Change(released.allocation, (event, *released.events))


def expire(allocation: Allocation, as_of: date) -> Change | None:
    """Nothing rolls over: a running allocation whose end date has passed expires."""
    if as_of <= allocation.end_date or EXPIRED not in NEXT_STATUSES[allocation.status]:
        return None
    expired = replace(allocation, status=EXPIRED, status_reason=f"ended on {allocation.end_date}")
    released = release_unspent(expired)
    event = AllocationExpired(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        end_date=allocation.end_date,
        released_pence=released.allocation.release_requested_pence
        - allocation.release_requested_pence,
    )
    return Change(released.allocation, (event, *released.events))


# --- Grant instalments ------------------------------------------------------------------------


def payment_id_for(allocation_id: str, number: int, attempt: int = 0) -> str:
    """Deterministic and at most 128 characters: the ledger dedupes payments by this id. A
    retry of a refused instalment has an id of its own ("/r1", "/r2", ...), so the refused
    payment and the one made stay apart in every read model."""
    suffix = f"/i{number}" + (f"/r{attempt}" if attempt else "")
    if len(allocation_id) + len(suffix) <= IDENTIFIER_LENGTH_MAX:
        return f"{allocation_id}{suffix}"
    return f"{hashlib.sha256(allocation_id.encode()).hexdigest()}{suffix}"


def due_instalments(allocation: Allocation, as_of: date) -> Change:
    """Request payment of every scheduled instalment of a funded grant due by `as_of`."""
    if allocation.status != FUNDED:
        return Change(allocation, ())
    events: list[Event] = []
    current = allocation
    for instalment in allocation.instalments:
        if instalment.status != SCHEDULED or instalment.due_date > as_of:
            continue
        payment_id = payment_id_for(allocation.allocation_id, instalment.number)
        current = _with_instalment(current, replace(instalment, status=REQUESTED))
        events.append(_instalment_payment(allocation, instalment, payment_id))
        events.append(
            InstalmentFellDue(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                instalment_number=instalment.number,
                due_date=instalment.due_date,
                amount_pence=instalment.amount_pence,
                payment_id=payment_id,
            )
        )
    return Change(current, tuple(events))


def _instalment_payment(
    allocation: Allocation, instalment: ScheduledInstalment, payment_id: str
) -> PaymentRequested:
    return PaymentRequested(
        place_id=allocation.place_id,
        payment_id=payment_id,
        allocation_id=allocation.allocation_id,
        provider_id=allocation.proposal.recipient_id,
        amount_pence=instalment.amount_pence,
        payment_kind="grant_instalment",
        purpose=allocation.purpose,
    )


def due_work(allocation: Allocation, as_of: date) -> Change:
    """What falls due for one allocation by `as_of`: refused instalments money has come back
    for, then instalments (they fell due while it ran), then expiry, which releases the rest."""
    retried = retry_refused_instalments(allocation, as_of)
    paid = due_instalments(retried.allocation, as_of)
    ended = expire(paid.allocation, as_of)
    if ended is None:
        return Change(paid.allocation, (*retried.events, *paid.events))
    return Change(ended.allocation, (*retried.events, *paid.events, *ended.events))


# --- Variations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variation:
    variation_id: str
    allocation_id: str
    change: str
    reason: str
    proposed_by: str
    proposed_on: date
    new_value_pence: int | None
    new_end_date: date | None
    new_purpose: str | None
    new_purpose_tags: tuple[str, ...] | None
    status: str = VARIATION_PROPOSED
    awaiting_sign_off: bool = False

    def same_request(self, other: Variation) -> bool:
        return replace(self, status=other.status, awaiting_sign_off=other.awaiting_sign_off) == (
            other
        )


def _committed_floor(allocation: Allocation) -> int:
    """The least an allocation may be varied down to: what is paid, in flight or scheduled."""
    scheduled = sum(i.amount_pence for i in allocation.instalments if i.status != NOT_PAID)
    return max(allocation.spent_pence + allocation.in_flight_pence, scheduled)


def check_variation(
    place: Place, allocation: Allocation, variation: Variation, year: YearBook
) -> None:
    """A variation goes through the same rules as the allocation, and never after its end."""
    subject = f"allocation {allocation.allocation_id}"
    if allocation.status in ENDED or variation.proposed_on > allocation.end_date:
        raise Refused(
            "variation_before_end",
            f"{subject} ended on {allocation.end_date} ({allocation.status}); a variation "
            f"proposed on {variation.proposed_on} is refused: nothing rolls over, propose a new "
            "allocation",
        )
    if allocation.status != FUNDED:
        raise Refused(
            "variation_of_funded",
            f"{subject} is {allocation.status}; only a funded allocation can be varied",
        )
    if allocation.pending_variation_id is not None:
        raise Refused(
            "one_variation_at_a_time",
            f"{subject} has variation {allocation.pending_variation_id} still in progress",
        )
    check_may_propose(place, variation.proposed_by)
    _check_change(allocation, variation)
    if variation.change in ("value_up", "purpose"):
        value = variation.new_value_pence or allocation.value_pence
        tags = variation.new_purpose_tags
        check_earmarks(
            place,
            year,
            allocation.allocation_id,
            value,
            allocation.purpose_tags if tags is None else tags,
        )
        if tags is not None:
            _check_reservation_may_take_new_tags(place, allocation, tags, year)


def _check_reservation_may_take_new_tags(
    place: Place, allocation: Allocation, tags: Sequence[str], year: YearBook
) -> None:
    # A funded allocation's reservation was drawn under its old tags' funding rules; a purpose
    # that newly excludes a stream with money in the year may already hold that stream's money,
    # so it needs a new allocation rather than a new label.
    before = set(excluded_streams(place, allocation.purpose_tags))
    settled = {
        (s.department_code, s.funding_stream_code) for s in year.streams if s.settled_pence > 0
    }
    for stream in excluded_streams(place, tags):
        key = (stream.department_code, stream.funding_stream_code)
        if stream not in before and key in settled:
            raise Refused(
                "earmark_excluded_purpose",
                f"{stream.department_code}/{stream.funding_stream_code} may not fund the new "
                f"purpose of allocation {allocation.allocation_id}, and its reservation was "
                "drawn from every stream of the pot including that one: propose a new "
                "allocation for the new purpose",
            )


def _check_change(allocation: Allocation, variation: Variation) -> None:
    value, new_value = allocation.value_pence, variation.new_value_pence
    if variation.change == "value_up" and (new_value is None or new_value <= value):
        raise Refused(
            "value_up",
            f"a value_up must raise the value above {format_pounds(value)}; "
            f"{format_pounds(new_value or 0)} does not",
        )
    if variation.change == "value_down":
        floor = _committed_floor(allocation)
        if new_value is None or new_value >= value or new_value < floor:
            raise Refused(
                "value_down",
                f"a value_down must lower the value below {format_pounds(value)} but not "
                f"under the {format_pounds(floor)} paid, in payment or scheduled; "
                f"{format_pounds(new_value or 0)} does not fit",
            )
    if variation.change == "extension" and (
        variation.new_end_date is None or variation.new_end_date <= allocation.end_date
    ):
        raise Refused(
            "extension",
            f"an extension must move the end date beyond {allocation.end_date}; "
            f"{variation.new_end_date} does not",
        )


def decide_variation(
    place: Place,
    allocation: Allocation,
    variation: Variation,
    year: YearBook,
    result: Tally,
) -> tuple[Variation, Change]:
    """Apply the board's decision on a variation, waiting for sign-off above the threshold."""
    if variation.status != VARIATION_PROPOSED or variation.awaiting_sign_off:
        raise Refused("vote_open", f"variation {variation.variation_id} is not open for decision")
    if result.outcome == "rejected":
        return _reject_variation(allocation, variation, result.reason)
    try:
        check_variation(place, allocation, variation, year)
    except Refused as refusal:
        return _reject_variation(allocation, variation, str(refusal))
    new_value = variation.new_value_pence or allocation.value_pence
    if new_value > place.rules.sign_off_threshold_pence:
        return replace(variation, awaiting_sign_off=True), Change(allocation, ())
    return apply_variation(allocation, variation, place)


def sign_off_variation(
    place: Place,
    allocation: Allocation,
    variation: Variation,
    signer_id: str,
    decision: str,
    reasons: str | None,
) -> tuple[Variation, Change]:
    check_signer(place, signer_id)
    if not variation.awaiting_sign_off or variation.status != VARIATION_PROPOSED:
        raise Refused(
            "awaiting_sign_off", f"variation {variation.variation_id} is not awaiting sign-off"
        )
    if decision == "refused":
        refused = AllocationSignOffRefused(
            place_id=place.place_id,
            allocation_id=allocation.allocation_id,
            variation_id=variation.variation_id,
            accounting_officer_id=signer_id,
            reasons=reasons or "no reasons given",
        )
        rejected_variation, change = _reject_variation(
            allocation, variation, f"the accounting officer refused: {refused.reasons}"
        )
        return rejected_variation, Change(change.allocation, (refused, *change.events))
    applied_variation, change = apply_variation(allocation, variation, place)
    signed = AllocationSignedOff(
        place_id=place.place_id,
        allocation_id=allocation.allocation_id,
        variation_id=variation.variation_id,
        accounting_officer_id=signer_id,
        value_pence=change.allocation.value_pence,
    )
    return applied_variation, Change(change.allocation, (signed, *change.events))


def _reject_variation(
    allocation: Allocation, variation: Variation, reason: str
) -> tuple[Variation, Change]:
    event = VariationRejected(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        variation_id=variation.variation_id,
        reason=reason,
    )
    return replace(variation, status=VARIATION_REJECTED, awaiting_sign_off=False), Change(
        allocation, (event,)
    )


def apply_variation(
    allocation: Allocation, variation: Variation, place: Place
) -> tuple[Variation, Change]:
    """The varied allocation, with the ledger request the change needs: an extra reservation
    for a rise, a release "varied_down" for a cut."""
    previous = allocation.value_pence
    new_value = variation.new_value_pence if variation.change.startswith("value") else None
    varied = replace(
        allocation,
        value_pence=new_value or previous,
        end_date=variation.new_end_date or allocation.end_date,
        purpose=variation.new_purpose or allocation.purpose,
        purpose_tags=(
            allocation.purpose_tags
            if variation.new_purpose_tags is None
            else variation.new_purpose_tags
        ),
    )
    events: list[Event] = [
        AllocationVaried(
            place_id=allocation.place_id,
            allocation_id=allocation.allocation_id,
            change=variation.change,  # type: ignore[arg-type]
            reason=variation.reason,
            previous_value_pence=previous,
            new_value_pence=varied.value_pence,
            new_end_date=variation.new_end_date,
            new_purpose=variation.new_purpose,
            variation_id=variation.variation_id,
        )
    ]
    if varied.value_pence > previous:
        increase = varied.value_pence - previous
        varied = replace(
            varied, pending_increase_pence=increase, pending_variation_id=variation.variation_id
        )
        events.append(
            ReservationRequested(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                financial_year=allocation.proposal.financial_year,
                amount_pence=increase,
                purpose=varied.purpose,
                **funding_rules(place, varied, varied.purpose_tags),
            )
        )
    elif varied.value_pence < previous:
        decrease = previous - varied.value_pence
        varied = replace(varied, release_requested_pence=varied.release_requested_pence + decrease)
        events.append(
            ReservationReleaseRequested(
                place_id=allocation.place_id,
                allocation_id=allocation.allocation_id,
                amount_pence=decrease,
                reason="varied_down",
            )
        )
    applied = replace(variation, status=VARIATION_APPLIED, awaiting_sign_off=False)
    return applied, Change(varied, tuple(events))


# --- Right to Serve / Right to Request claims -------------------------------------------------


@dataclass(frozen=True)
class Claim:
    claim_id: str
    claim_kind: str
    claimant_id: str
    claimant_kind: str
    service_description: str
    lodged_on: date
    response_due_on: date
    status: str = CLAIM_OPEN
    overdue_flagged: bool = False

    def same_claim(self, other: Claim) -> bool:
        return replace(self, status=other.status, overdue_flagged=other.overdue_flagged) == other


def lodge_claim(place: Place, existing: Claim | None, claim: Claim) -> ClaimLodged | None:
    """The event recording a new claim, None if it was already lodged, Refused if the id is
    reused for a different claim."""
    if existing is not None:
        if existing.same_claim(claim):
            return None
        raise Refused(
            "claim_id_unique",
            f"claim {claim.claim_id} already exists in {place.place_id} with other details",
        )
    return ClaimLodged(
        place_id=place.place_id,
        claim_id=claim.claim_id,
        claim_kind=claim.claim_kind,  # type: ignore[arg-type]
        claimant_id=claim.claimant_id,
        claimant_kind=claim.claimant_kind,  # type: ignore[arg-type]
        service_description=claim.service_description,
        lodged_on=claim.lodged_on,
        response_due_on=claim.response_due_on,
    )


def response_due(rules: Rules, lodged_on: date) -> date:
    return lodged_on + timedelta(days=rules.claim_response_days)


def check_claim_answerable(place_id: str, claim: Claim | None, claim_id: str) -> Claim:
    if claim is None:
        raise Refused("claim_exists", f"no claim {claim_id} in {place_id}")
    if claim.status != CLAIM_OPEN:
        raise Refused("one_response", f"claim {claim_id} has already been answered")
    return claim


def claim_overdue(claim: Claim, place_id: str, as_of: date) -> ClaimOverdue | None:
    """Flag an unanswered claim past its deadline, once."""
    if claim.status != CLAIM_OPEN or claim.overdue_flagged or as_of <= claim.response_due_on:
        return None
    return ClaimOverdue(
        place_id=place_id,
        claim_id=claim.claim_id,
        claimant_id=claim.claimant_id,
        response_due_on=claim.response_due_on,
        as_of=as_of,
    )


def claim_response(claim: Claim, responded_on: date) -> tuple[Claim, bool]:
    """The answered claim, and whether the answer came after the deadline."""
    return replace(claim, status=CLAIM_ANSWERED), responded_on > claim.response_due_on


# --- Decisions: one per command ---------------------------------------------------------------
# Each takes the state its handler loaded and the command, and returns a `Decision`: the state
# to save and the events to publish, or the rule broken. The checks above raise `Refused` from
# deep inside a rule; `_decides` turns that into a refused decision at this boundary, so a
# handler never catches anything and never holds a rule.

SUBJECT_FIELDS = (
    "variation_id",
    "allocation_id",
    "claim_id",
    "plan_id",
    "earmark_id",
    "interest_id",
    "board_version",
    "rules_version",
    "as_of",
)
"""The fields that name what a command is about, most specific first."""


def subject_of(command: Event) -> str:
    """What a command is about, as its refusal names it (the place when nothing narrower)."""
    for name in SUBJECT_FIELDS:
        value = getattr(command, name, None)
        if value is not None:
            return str(value)
    return command.place_id


def _decides(rule: Callable[Arguments, Decision[State]]) -> Callable[Arguments, Decision[State]]:
    """The rule, with a `Refused` raised inside it returned as a refused decision."""

    @functools.wraps(rule)
    def decide_or_refuse(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Decision[State]:
        try:
            return rule(*args, **kwargs)
        except Refused as refusal:
            return Decision.refuse(refusal.rule, str(refusal), refusal.figures)

    return decide_or_refuse


@dataclass(frozen=True)
class Plan:
    """An adopted Local Reform Plan as stored: its id, the command as JSON, its missions."""

    plan_id: str
    document: str
    mission_ids: tuple[str, ...]


@dataclass(frozen=True)
class Changed:
    """An allocation as a command left it, and its variation when the command was about one."""

    allocation: Allocation
    variation: Variation | None = None


@dataclass(frozen=True)
class DueWork:
    """What a due-work run changed: allocations (instalments, expiries) and overdue claims."""

    allocations: tuple[Allocation, ...]
    claims: tuple[Claim, ...]


@_decides
def decide_board(place: Place, command: ConfigureBoard) -> Decision[Board]:
    """The next version of the board; the same version repeated unchanged does nothing."""
    board = Board(
        version=command.board_version,
        chair_id=command.chair_id,
        chair_role=command.chair_role,
        accounting_officer_id=command.accounting_officer_id,
        members=tuple(Member(m.member_id, m.seat, m.voting) for m in command.members),
    )
    current = place.board.version if place.board else None
    if not next_version(current, board.version, "board", board == place.board):
        return Decision()
    return Decision(board, (BoardConfigured(**command.model_dump()),))


@_decides
def decide_rules(place: Place, command: SetDecisionRules) -> Decision[Rules]:
    """The next version of the decision rules; the same version repeated does nothing."""
    rules = Rules(
        version=command.rules_version,
        quorum_members=command.quorum_members,
        majority=command.majority,
        sign_off_threshold_pence=command.sign_off_threshold_pence,
        proposer_ids=command.proposer_ids,
        proposer_seats=command.proposer_seats,
        claim_response_days=command.claim_response_days,
    )
    if not next_version(place.rules.version, rules.version, "rules", rules == place.rules):
        return Decision()
    return Decision(rules, (DecisionRulesSet(**command.model_dump()),))


@_decides
def decide_interest(
    place: Place, existing: Interest | None, command: DeclareInterest
) -> Decision[Interest]:
    """A board member's declared interest (they are recused from what it concerns)."""
    check_interest(place.board, place.place_id, command.member_id)
    interest = Interest(
        command.interest_id,
        command.member_id,
        command.recipient_id,
        command.allocation_id,
        command.description,
    )
    if existing == interest:
        return Decision()
    if existing is not None:
        raise Refused("interest_id_unique", f"interest {command.interest_id} exists already")
    return Decision(interest, (InterestDeclared(**command.model_dump()),))


@_decides
def decide_plan(
    place: Place, existing_document: str | None, command: AdoptLocalReformPlan
) -> Decision[Plan]:
    """An adopted plan whose missions are new; the same plan again does nothing."""
    if existing_document is not None:
        if AdoptLocalReformPlan.model_validate_json(existing_document) == command:
            return Decision()
        raise Refused("plan_id_unique", f"plan {command.plan_id} was adopted with other terms")
    mission_ids = tuple(mission.mission_id for mission in command.missions)
    check_missions_new(place.mission_ids, mission_ids, command.plan_id)
    plan = Plan(command.plan_id, command.model_dump_json(), mission_ids)
    return Decision(plan, (LocalReformPlanAdopted(**command.model_dump()),))


def decide_earmark(command: SetEarmark) -> Decision[Earmark]:
    """An earmark set (or replaced): any earmark may be set; proposals are checked against it."""
    earmark = Earmark(
        command.earmark_id,
        command.kind,
        command.purpose_tag,
        command.minimum_share_basis_points,
        command.department_code,
        command.funding_stream_code,
        command.reason,
    )
    return Decision(earmark, (EarmarkSet(**command.model_dump()),))


def proposal_of(command: ProposeAllocation) -> Proposal:
    return Proposal(
        allocation_id=command.allocation_id,
        allocation_type=command.allocation_type,
        recipient_id=command.recipient_id,
        purpose=command.purpose,
        mission_id=command.mission_id,
        start_date=command.start_date,
        end_date=command.end_date,
        value_pence=command.value_pence,
        financial_year=command.financial_year,
        proposed_by=command.proposed_by,
        instalments=command.instalments,
        purpose_tags=command.purpose_tags,
        citizen_involvement=command.citizen_involvement,
        funding_streams=command.funding_streams,
        excluded_funding_streams=command.excluded_funding_streams,
    )


@_decides
def decide_proposal(
    place: Place, existing: Allocation | None, year: YearBook, command: ProposeAllocation
) -> Decision[Allocation]:
    """A new proposal; the same proposal again does nothing, another under its id is refused."""
    allocation = propose(place, existing, proposal_of(command), year)
    if allocation is None:
        return Decision()
    return Decision(allocation, (AllocationProposed(**command.model_dump()),))


def _found(place_id: str, allocation_id: str, allocation: Allocation | None) -> Allocation:
    if allocation is None:
        raise Refused("allocation_exists", f"no allocation {allocation_id} in {place_id}")
    return allocation


def _variation_of(
    allocation: Allocation, variation_id: str, variation: Variation | None
) -> Variation:
    if variation is None or variation.allocation_id != allocation.allocation_id:
        raise Refused(
            "variation_exists",
            f"no variation {variation_id} of allocation {allocation.allocation_id}",
        )
    return variation


def open_for_votes(
    allocation: Allocation, variation_id: str | None, variation: Variation | None
) -> tuple[bool, str]:
    """Whether the allocation (or its variation) takes votes now, and how to name it."""
    if variation_id is None:
        return allocation.status == PROPOSED, f"allocation {allocation.allocation_id}"
    varied = _variation_of(allocation, variation_id, variation)
    is_open = varied.status == VARIATION_PROPOSED and not varied.awaiting_sign_off
    return is_open, f"variation {variation_id} of allocation {allocation.allocation_id}"


@_decides
def decide_vote(
    place: Place,
    allocation: Allocation | None,
    variation: Variation | None,
    interests: Iterable[Interest],
    previous: Vote | None,
    command: CastVote,
) -> Decision[Vote]:
    """A member's vote with the rules version in force; recused members are refused."""
    found = _found(command.place_id, command.allocation_id, allocation)
    is_open, subject = open_for_votes(found, command.variation_id, variation)
    vote = check_vote(
        place,
        interests,
        subject,
        is_open,
        found.allocation_id,
        found.proposal.recipient_id,
        command.member_id,
        previous,
        command.vote,
        command.reason,
    )
    if vote is None:
        return Decision()
    recorded = VoteRecorded(
        place_id=command.place_id,
        allocation_id=command.allocation_id,
        variation_id=command.variation_id,
        member_id=command.member_id,
        vote=command.vote,
        rules_version=vote.rules_version,
        reason=vote.reason,
    )
    return Decision(vote, (recorded,))


@_decides
def decide_close_vote(
    place: Place,
    allocation: Allocation | None,
    variation: Variation | None,
    interests: Iterable[Interest],
    votes: Sequence[Vote],
    year: YearBook,
    command: CloseVote,
) -> Decision[Changed]:
    """Count the votes under the rules in force and apply the board's decision."""
    found = _found(command.place_id, command.allocation_id, allocation)
    is_open, subject = open_for_votes(found, command.variation_id, variation)
    if not is_open:
        raise Refused("vote_open", f"{subject} is not open for votes")
    result = tally(
        place, interests, subject, found.allocation_id, found.proposal.recipient_id, votes
    )
    return _apply_decision(place, found, variation, year, result, command.closed_by)


@_decides
def decide_resolution(
    place: Place,
    allocation: Allocation | None,
    variation: Variation | None,
    year: YearBook,
    command: DecideAllocation,
) -> Decision[Changed]:
    """A decision without recorded votes, for a place with no board; repeated or late, it
    changes nothing (deciding is idempotent)."""
    found = _found(command.place_id, command.allocation_id, allocation)
    is_open, _ = open_for_votes(found, command.variation_id, variation)
    if not is_open:
        return Decision()
    result = resolution(place, command.decided_by, command.decision, command.reason)
    return _apply_decision(place, found, variation, year, result, command.decided_by)


def _apply_decision(
    place: Place,
    allocation: Allocation,
    variation: Variation | None,
    year: YearBook,
    result: Tally,
    decided_by: str,
) -> Decision[Changed]:
    variation_id = variation.variation_id if variation is not None else None
    recorded = decision_event(place, allocation.allocation_id, variation_id, result)
    if variation is None:
        change = decide(place, allocation, year, result, decided_by)
        return Decision(Changed(change.allocation), (recorded, *change.events))
    varied, change = decide_variation(place, allocation, variation, year, result)
    return Decision(Changed(change.allocation, varied), (recorded, *change.events))


@_decides
def decide_sign_off(
    place: Place,
    allocation: Allocation | None,
    variation: Variation | None,
    command: SignOffAllocation,
) -> Decision[Changed]:
    """The accounting officer signs off (the ledger is asked to reserve) or refuses."""
    found = _found(command.place_id, command.allocation_id, allocation)
    signer, answer, reasons = command.accounting_officer_id, command.decision, command.reasons
    if command.variation_id is None:
        change = sign_off(place, found, signer, answer, reasons)
        return Decision(Changed(change.allocation), change.events)
    varied = _variation_of(found, command.variation_id, variation)
    signed, change = sign_off_variation(place, found, varied, signer, answer, reasons)
    return Decision(Changed(change.allocation, signed), change.events)


@_decides
def decide_variation_proposal(
    place: Place,
    allocation: Allocation | None,
    existing: Variation | None,
    year: YearBook,
    command: ProposeVariation,
) -> Decision[Variation]:
    """A proposed variation, then decided like the allocation was; the same one again does
    nothing, another under its id is refused."""
    found = _found(command.place_id, command.allocation_id, allocation)
    variation = Variation(
        variation_id=command.variation_id,
        allocation_id=command.allocation_id,
        change=command.change,
        reason=command.reason,
        proposed_by=command.proposed_by,
        proposed_on=command.proposed_on,
        new_value_pence=command.new_value_pence,
        new_end_date=command.new_end_date,
        new_purpose=command.new_purpose,
        new_purpose_tags=command.new_purpose_tags,
    )
    if existing is not None:
        if existing.same_request(variation):
            return Decision()
        raise Refused(
            "variation_id_unique", f"variation {command.variation_id} exists with other terms"
        )
    check_variation(place, found, variation, year)
    return Decision(variation, (VariationProposed(**command.model_dump()),))


@_decides
def decide_cancel(allocation: Allocation | None, command: CancelAllocation) -> Decision[Changed]:
    """Cancel a running allocation and release its unspent reservation."""
    found = _found(command.place_id, command.allocation_id, allocation)
    change = cancel(found, f"{command.reason} (by {command.cancelled_by})")
    return Decision(Changed(change.allocation), change.events)


def decide_due_work(
    allocations: Iterable[Allocation], overdue: Iterable[Claim], command: ProcessDueWork
) -> Decision[DueWork]:
    """Everything due by a date: grant instalments, expiries (releasing the rest), overdue
    claims. State records what was done, so the same date again changes nothing more."""
    changed: list[Allocation] = []
    flagged: list[Claim] = []
    events: list[Event] = []
    for allocation in allocations:
        change = due_work(allocation, command.as_of)
        if change.events:
            changed.append(change.allocation)
            events += change.events
    for claim in overdue:
        flag = claim_overdue(claim, command.place_id, command.as_of)
        if flag is not None:
            flagged.append(replace(claim, overdue_flagged=True))
            events.append(flag)
    return Decision(DueWork(tuple(changed), tuple(flagged)), tuple(events))


@_decides
def decide_claim(place: Place, existing: Claim | None, command: LodgeClaim) -> Decision[Claim]:
    """A claim recorded with the date the board must answer by; the same claim again does
    nothing, another under its id is refused."""
    claim = Claim(
        claim_id=command.claim_id,
        claim_kind=command.claim_kind,
        claimant_id=command.claimant_id,
        claimant_kind=command.claimant_kind,
        service_description=command.service_description,
        lodged_on=command.lodged_on,
        response_due_on=response_due(place.rules, command.lodged_on),
    )
    lodged = lodge_claim(place, existing, claim)
    if lodged is None:
        return Decision()
    return Decision(claim, (lodged,))


@_decides
def decide_claim_response(existing: Claim | None, command: RespondToClaim) -> Decision[Claim]:
    """The board's reasoned response to an open claim, noting whether it came late."""
    claim = check_claim_answerable(command.place_id, existing, command.claim_id)
    answered, late = claim_response(claim, command.responded_on)
    responded = ClaimResponded(
        **command.model_dump(), response_due_on=claim.response_due_on, late=late
    )
    return Decision(answered, (responded,))

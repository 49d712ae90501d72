"""The gateway's message handlers: they keep the read models (pot, allocations, the board and its
decisions, claims, contracts, evidence, remittances, payments, statements, the department spend
feed) up to date from public events, and
queue a webhook delivery per subscription for every spend event. The registry is at the bottom.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import asyncpg

from contracts import (
    AllocationApproved,
    AllocationCancelled,
    AllocationExpired,
    AllocationFunded,
    AllocationProposed,
    AllocationRejected,
    AllocationUnfunded,
    AllocationVaried,
    AttributionShare,
    Event,
    EvidenceRejected,
    EvidenceSubmitted,
    EvidenceVerified,
    OutcomesContractRegistered,
    PaymentMade,
    PaymentRejected,
    PeriodClosed,
    ReceiptRecorded,
    RecoveryRecorded,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
    ReservationTransferred,
    SettlementRecorded,
    SpendRecorded,
    VirementRecorded,
)
from contracts.allocations import (
    AllocationSignedOff,
    AllocationSignOffRefused,
    BoardConfigured,
    BoardDecisionRecorded,
    ClaimLodged,
    ClaimOverdue,
    ClaimResponded,
    DecisionRulesSet,
    EarmarkSet,
    InterestDeclared,
    LocalReformPlanAdopted,
    VoteRecorded,
)
from contracts.decisions import CommandRefused
from contracts.envelope import Envelope
from contracts.outcomes import (
    ClawbackRaised,
    ClawbackSettled,
    EngagementsRecorded,
    EvidenceHeld,
    EvidenceSampled,
    FunnelMeasured,
    ReferralsRecorded,
    RemittanceAdvised,
    VerificationRuleApplied,
)
from services.gateway.command_log import status as command_status
from services.gateway.delivery import db as delivery_db
from services.gateway.projections import claim_results, db, domain
from services.runtime.batch_consumer import BatchHandler
from services.runtime.consumer import Handler, HandlerContext
from services.runtime.outbox import Outbox

CONSUMER = "gateway"


async def _apply(context: HandlerContext, changes: list[domain.PotStreamChange]) -> None:
    await db.add_to_pot_streams(context.connection, domain.combined(changes))


# --- Ledger results ---------------------------------------------------------------------------


async def on_settlement_recorded(context: HandlerContext, event: SettlementRecorded) -> None:
    await _apply(context, domain.settled(event))


async def on_receipt_recorded(context: HandlerContext, event: ReceiptRecorded) -> None:
    await _apply(context, domain.received(event))


async def on_reservation_made(context: HandlerContext, event: ReservationMade) -> None:
    await _apply(context, domain.reserved(event))
    attribution = [share.model_dump(mode="json") for share in event.attribution]
    await db.insert_reservation(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.financial_year,
        event.amount_pence,
        attribution,
    )


async def on_reservation_rejected(context: HandlerContext, event: ReservationRejected) -> None:
    await db.set_allocation_status(
        context.connection, event.place_id, event.allocation_id, "unfunded", event.reason
    )


async def on_reservation_released(context: HandlerContext, event: ReservationReleased) -> None:
    """The release as the ledger split it; an older ledger's event, which does not say, falls
    back to the reservation's mix (`domain.release_shares_of_older_ledger`)."""
    found = await db.release_reservation(
        context.connection, event.place_id, event.allocation_id, event.amount_pence
    )
    if event.attribution is not None and event.financial_year is not None:
        changes = domain.released(event.place_id, event.financial_year, event.attribution)
    elif found is not None:
        year, mix = found
        reservation_mix = [AttributionShare.model_validate(share) for share in mix]
        shares = domain.release_shares_of_older_ledger(reservation_mix, event.amount_pence)
        changes = domain.released(event.place_id, year, shares)
    else:
        return  # an older ledger's release of a reservation the gateway never saw
    await _apply(context, changes)


async def on_reservation_transferred(
    context: HandlerContext, event: ReservationTransferred
) -> None:
    """Money moved from one reservation to another (a participatory budgeting round's winner):
    the pot's reserved money is as it was; the source holds less and the target is reserved."""
    await db.release_reservation(
        context.connection, event.place_id, event.from_allocation_id, event.amount_pence
    )
    await db.insert_reservation(
        context.connection,
        event.place_id,
        event.to_allocation_id,
        event.financial_year,
        event.amount_pence,
        [share.model_dump(mode="json") for share in event.attribution],
    )


async def on_payment_made(context: HandlerContext, event: PaymentMade) -> None:
    await db.insert_payment(context.connection, {**event.model_dump(mode="json"), "status": "made"})
    await db.note_payment_made(
        context.connection, event.place_id, event.payment_id, context.envelope.occurred_at
    )


async def on_payment_rejected(context: HandlerContext, event: PaymentRejected) -> None:
    await db.insert_payment(
        context.connection, {**event.model_dump(mode="json"), "status": "rejected"}
    )


async def on_recovery_recorded(context: HandlerContext, event: RecoveryRecorded) -> None:
    """The payment is net of the recovery, and each department whose streams paid gets the
    recovery in its feed as negative spend (webhooks and SSE too, once per event id)."""
    await db.add_recovery(context.connection, event.place_id, event.payment_id, event.amount_pence)
    payment = await db.payment_for_recovery(context.connection, event.place_id, event.payment_id)
    shares, year = domain.recovery_booking(event, payment)
    if year is not None:
        await _apply(context, domain.recovered(event.place_id, year, shares))
    if payment is None:
        return  # a payment the gateway never saw made: no feed record to build from
    envelope = context.envelope
    await delivery_db.append_department_spend(
        context.connection,
        [
            delivery_db.SpendView(
                department_code,
                amount_pence,
                record,
                event.place_id,
                record["spend_id"],
                envelope.event_id,
                envelope.traceparent,
            )
            for department_code, amount_pence, record in domain.recovery_views(
                event, payment, envelope.occurred_at
            )
        ],
    )


async def on_virement_recorded(context: HandlerContext, event: VirementRecorded) -> None:
    await _apply(context, domain.vired(event))


async def on_period_closed(context: HandlerContext, event: PeriodClosed) -> None:
    await db.close_period(context.connection, event.place_id, event.financial_year)


# --- Public spend -----------------------------------------------------------------------------


async def on_spend_recorded(context: HandlerContext, event: SpendRecorded) -> None:
    await record_spends(context.connection, [(context.envelope, event)])


async def record_spends(
    connection: asyncpg.Connection, spends: Sequence[tuple[Envelope, SpendRecorded]]
) -> None:
    """Spend into the pot, the place's spend list and each department's feed (queuing webhook
    deliveries), set-wise: four statements however many spends a batch holds."""
    await db.add_to_pot_streams(
        connection, domain.combined(change for _, event in spends for change in domain.spent(event))
    )
    await db.insert_spends(
        connection,
        [
            (
                event.spend_id,
                event.place_id,
                event.amount_pence,
                event.model_dump(mode="json"),
                envelope.occurred_at,
            )
            for envelope, event in spends
        ],
    )
    await delivery_db.append_department_spend(
        connection,
        [
            delivery_db.SpendView(
                view.department_code,
                view.amount_pence,
                view.record,
                event.place_id,
                event.spend_id,
                envelope.event_id,
                envelope.traceparent,
            )
            for envelope, event in spends
            for view in domain.department_views(event)
        ],
    )


# --- Recoveries as negative spend -------------------------------------------------------------
# Pure: these would sit in gateway_domain.py, which this change could not touch (see the report).


# --- Allocations ------------------------------------------------------------------------------


async def on_allocation_proposed(context: HandlerContext, event: AllocationProposed) -> None:
    await db.insert_allocation(
        context.connection, {**event.model_dump(), "proposed_at": context.envelope.occurred_at}
    )


async def on_allocation_approved(context: HandlerContext, event: AllocationApproved) -> None:
    await db.set_allocation_decided(
        context.connection, event.place_id, event.allocation_id, event.decided_by
    )
    await db.set_allocation_approval(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.rules_version,
        event.sign_off_required,
        context.envelope.occurred_at,
    )
    if event.sign_off_required:
        reason = "over the sign-off threshold: waits for the accounting officer"
        await _status(context, event, "awaiting_sign_off", reason)


async def on_allocation_rejected(context: HandlerContext, event: AllocationRejected) -> None:
    await _status(context, event, "rejected", event.reason)
    await db.set_allocation_rejection(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.reason,
        event.rule,
        context.envelope.occurred_at,
    )


async def on_allocation_cancelled(context: HandlerContext, event: AllocationCancelled) -> None:
    await _status(context, event, "cancelled", event.reason)


async def on_allocation_expired(context: HandlerContext, event: AllocationExpired) -> None:
    await _status(context, event, "expired", f"ended on {event.end_date}")


async def on_allocation_unfunded(context: HandlerContext, event: AllocationUnfunded) -> None:
    await _status(context, event, "unfunded", event.reason)


async def on_allocation_signed_off(context: HandlerContext, event: AllocationSignedOff) -> None:
    if event.variation_id is None:
        await _status(context, event, "signed_off", f"by {event.accounting_officer_id}")
    await db.insert_sign_off(
        context.connection, event.model_dump(), "signed_off", None, context.envelope.occurred_at
    )


async def on_sign_off_refused(context: HandlerContext, event: AllocationSignOffRefused) -> None:
    if event.variation_id is None:
        await _status(context, event, "sign_off_refused", event.reasons)
    await db.insert_sign_off(
        context.connection,
        event.model_dump(),
        "refused",
        event.reasons,
        context.envelope.occurred_at,
    )


async def on_allocation_funded(context: HandlerContext, event: AllocationFunded) -> None:
    await db.set_allocation_funded(
        context.connection, event.place_id, event.allocation_id, event.amount_pence
    )


async def on_allocation_varied(context: HandlerContext, event: AllocationVaried) -> None:
    await db.set_allocation_varied(context.connection, event.model_dump())


async def _status(
    context: HandlerContext,
    event: AllocationApproved
    | AllocationRejected
    | AllocationCancelled
    | AllocationExpired
    | AllocationUnfunded
    | AllocationSignedOff
    | AllocationSignOffRefused,
    status: str,
    reason: str,
) -> None:
    await db.set_allocation_status(
        context.connection, event.place_id, event.allocation_id, status, reason
    )


# --- The board: composition, rules, interests, votes, decisions, refusals -----------------------


async def on_board_configured(context: HandlerContext, event: BoardConfigured) -> None:
    await db.upsert_board(context.connection, event.model_dump(mode="json"))


async def on_decision_rules_set(context: HandlerContext, event: DecisionRulesSet) -> None:
    await db.upsert_decision_rules(context.connection, event.model_dump())


async def on_interest_declared(context: HandlerContext, event: InterestDeclared) -> None:
    await db.insert_interest(context.connection, event.model_dump())


async def on_vote_recorded(context: HandlerContext, event: VoteRecorded) -> None:
    await db.upsert_vote(context.connection, event.model_dump())


async def on_board_decision(context: HandlerContext, event: BoardDecisionRecorded) -> None:
    await db.insert_board_decision(
        context.connection, event.model_dump(), context.envelope.occurred_at
    )


async def on_command_refused(context: HandlerContext, event: CommandRefused) -> None:
    """An allocations refusal is listed with the place's refusals and an outcomes one may reject
    an evidence batch; the command's status shows every refusal (`command_status`)."""
    if event.decided_by == "allocations":
        await db.insert_refusal(
            context.connection,
            context.envelope.event_id,
            event.model_dump(),
            context.envelope.occurred_at,
        )
    elif event.decided_by == "outcomes":
        await _evidence_batch_refused(context, event)


async def on_earmark_set(context: HandlerContext, event: EarmarkSet) -> None:
    await db.upsert_earmark(context.connection, event.model_dump())


async def on_plan_adopted(context: HandlerContext, event: LocalReformPlanAdopted) -> None:
    await db.upsert_missions(context.connection, event.model_dump())


# --- Right to Serve and Right to Request claims -----------------------------------------------


async def on_claim_lodged(context: HandlerContext, event: ClaimLodged) -> None:
    await db.insert_claim(context.connection, event.model_dump())


async def on_claim_responded(context: HandlerContext, event: ClaimResponded) -> None:
    await db.set_claim_response(context.connection, event.model_dump())


async def on_claim_overdue(context: HandlerContext, event: ClaimOverdue) -> None:
    await db.set_claim_overdue(context.connection, event.place_id, event.claim_id, event.as_of)


# --- Outcomes ---------------------------------------------------------------------------------


async def on_contract_registered(
    context: HandlerContext, event: OutcomesContractRegistered
) -> None:
    values = event.model_dump(mode="json")
    terms = {
        name: values[name]
        for name in (
            "payers",
            "metrics",
            "start_date",
            "end_date",
            "claim_periods",
            "difficulty_segments",
            "social_value_kpis",
            "social_impact_bond",
        )
    }
    await db.insert_contract(context.connection, {**values, "terms": terms})


async def on_evidence_submitted(context: HandlerContext, event: EvidenceSubmitted) -> None:
    await db.upsert_evidence_batch(
        context.connection, {**event.model_dump(mode="json"), "status": "submitted"}
    )
    await db.note_evidence_received(
        context.connection,
        event.place_id,
        event.contract_id,
        event.batch_id,
        context.envelope.occurred_at,
    )


async def on_evidence_verified(context: HandlerContext, event: EvidenceVerified) -> None:
    await db.upsert_evidence_batch(
        context.connection, {**event.model_dump(mode="json"), "status": "verified"}
    )


async def on_evidence_sampled(context: HandlerContext, event: EvidenceSampled) -> None:
    await db.add_evidence_sample(
        context.connection,
        event.place_id,
        event.contract_id,
        event.batch_id,
        event.sample_size,
        [claim.model_dump(mode="json") for claim in event.claims],
    )


async def on_evidence_held(context: HandlerContext, event: EvidenceHeld) -> None:
    await db.upsert_evidence_batch(
        context.connection,
        {**event.model_dump(mode="json"), "status": "held", "reasons": list(event.reasons)},
    )


async def on_verification_rule_applied(
    context: HandlerContext, event: VerificationRuleApplied
) -> None:
    """The contract's rule decided a batch with a failed sample: the provider sees every figure."""
    outcome = event.model_dump(
        mode="json",
        include={"verification_rule", "decision", "payable_pence", "reason", "figures"},
    )
    await db.set_verification_outcome(
        context.connection, event.place_id, event.contract_id, event.batch_id, outcome
    )


async def on_evidence_rejected(context: HandlerContext, event: EvidenceRejected) -> None:
    await db.upsert_evidence_batch(
        context.connection,
        {**event.model_dump(mode="json"), "status": "rejected", "reasons": list(event.reasons)},
    )


async def on_remittance_advised(context: HandlerContext, event: RemittanceAdvised) -> None:
    await db.insert_remittance(
        context.connection, event.model_dump(mode="json"), context.envelope.occurred_at
    )


async def on_clawback_raised(context: HandlerContext, event: ClawbackRaised) -> None:
    await db.insert_clawback(context.connection, event.model_dump(), context.envelope.occurred_at)


async def on_clawback_settled(context: HandlerContext, event: ClawbackSettled) -> None:
    await db.settle_clawback(context.connection, event.model_dump(), context.envelope.occurred_at)


async def on_referrals_recorded(context: HandlerContext, event: ReferralsRecorded) -> None:
    await db.add_to_funnel(
        context.connection, event.place_id, event.contract_id, event.recorded_count, 0
    )


async def on_engagements_recorded(context: HandlerContext, event: EngagementsRecorded) -> None:
    await db.add_to_funnel(
        context.connection, event.place_id, event.contract_id, 0, event.recorded_count
    )


async def on_funnel_measured(context: HandlerContext, event: FunnelMeasured) -> None:
    await db.replace_segment_funnel(
        context.connection,
        event.place_id,
        event.contract_id,
        [segment.model_dump() for segment in event.segments],
    )


async def _evidence_batch_refused(context: HandlerContext, event: CommandRefused) -> None:
    """A refused evidence batch is shown as a rejected batch with its reason, as it was when
    outcomes published `EvidenceRejected` for it."""
    if event.command_type != "SubmitEvidence":
        return
    await db.upsert_evidence_batch(
        context.connection,
        {
            "place_id": event.place_id,
            "contract_id": event.contract_id,
            "batch_id": event.subject_id,
            "status": "rejected",
            "reasons": [event.reason],
        },
    )


HANDLERS: dict[type[Event], Handler] = {
    SettlementRecorded: on_settlement_recorded,
    ReceiptRecorded: on_receipt_recorded,
    ReservationMade: on_reservation_made,
    ReservationRejected: on_reservation_rejected,
    ReservationReleased: on_reservation_released,
    ReservationTransferred: on_reservation_transferred,
    PaymentMade: on_payment_made,
    PaymentRejected: on_payment_rejected,
    RecoveryRecorded: on_recovery_recorded,
    PeriodClosed: on_period_closed,
    VirementRecorded: on_virement_recorded,
    SpendRecorded: on_spend_recorded,
    AllocationProposed: on_allocation_proposed,
    AllocationApproved: on_allocation_approved,
    AllocationRejected: on_allocation_rejected,
    AllocationCancelled: on_allocation_cancelled,
    AllocationExpired: on_allocation_expired,
    AllocationUnfunded: on_allocation_unfunded,
    AllocationFunded: on_allocation_funded,
    AllocationVaried: on_allocation_varied,
    OutcomesContractRegistered: on_contract_registered,
    EvidenceSubmitted: on_evidence_submitted,
    EvidenceVerified: on_evidence_verified,
    EvidenceRejected: on_evidence_rejected,
    EvidenceHeld: on_evidence_held,
    VerificationRuleApplied: on_verification_rule_applied,
    EvidenceSampled: on_evidence_sampled,
    AllocationSignedOff: on_allocation_signed_off,
    AllocationSignOffRefused: on_sign_off_refused,
    BoardConfigured: on_board_configured,
    DecisionRulesSet: on_decision_rules_set,
    InterestDeclared: on_interest_declared,
    VoteRecorded: on_vote_recorded,
    BoardDecisionRecorded: on_board_decision,
    CommandRefused: on_command_refused,
    EarmarkSet: on_earmark_set,
    LocalReformPlanAdopted: on_plan_adopted,
    ClaimLodged: on_claim_lodged,
    ClaimResponded: on_claim_responded,
    ClaimOverdue: on_claim_overdue,
    RemittanceAdvised: on_remittance_advised,
    ClawbackRaised: on_clawback_raised,
    ClawbackSettled: on_clawback_settled,
    ReferralsRecorded: on_referrals_recorded,
    FunnelMeasured: on_funnel_measured,
    EngagementsRecorded: on_engagements_recorded,
}
_READ_MODEL_HANDLERS = HANDLERS


def handlers_with(*rooms_handlers: Mapping[type[Event], Handler]) -> dict[type[Event], Handler]:
    """The read models' handlers and those of rooms above (handed in by `app.py`, so this room
    imports none of them), a room's handler running after the read model's for the same event.
    Per-claim results of evidence batches are kept beside (claim_results), and every handler
    also records what its event means for the command it answers (command_status)."""
    table = dict(_READ_MODEL_HANDLERS)
    for handlers in rooms_handlers:
        for kind, handler in handlers.items():
            table[kind] = _one_after_another(table.get(kind), handler)
    return command_status.tracked(claim_results.alongside(table))


def _one_after_another(first: Handler | None, second: Handler) -> Handler:
    """Both handlers of one event, in one transaction: the read model's, then the room's."""
    if first is None:
        return second

    async def handle(context: HandlerContext, event: Event) -> None:
        await first(context, event)
        await second(context, event)

    handle.__name__ = first.__name__
    handle.__doc__ = first.__doc__
    return handle


HANDLERS = handlers_with()


def batch_handler(handlers: Mapping[type[Event], Handler]) -> BatchHandler:
    """The batch handler over a handler table (this room's, or the app's fuller one)."""
    return functools.partial(_handle_batch, handlers)


async def _handle_batch(
    handlers: Mapping[type[Event], Handler],
    connection: asyncpg.Connection,
    messages: Sequence[tuple[Envelope, Event]],
) -> None:
    """A topic's fetch (every partition of it this member holds) in one transaction: the inbox is
    claimed for every message in one statement, then each message not seen before goes to its
    handler. A failing batch is replayed message by message by the runtime, through the handlers
    above."""
    claimed = await db.claim_inbox_batch(
        connection,
        CONSUMER,
        [envelope.event_id for envelope, _ in messages],
        [envelope.event_type for envelope, _ in messages],
    )
    fresh = []
    for envelope, event in messages:
        if envelope.event_id in claimed:
            claimed.discard(envelope.event_id)  # the same event twice in one fetch: once
            fresh.append((envelope, event))
    spends = [(envelope, event) for envelope, event in fresh if isinstance(event, SpendRecorded)]
    if len(spends) == len(fresh):
        # A fetch of the spend topic: the common case under load, handled set-wise.
        if spends:
            await record_spends(connection, spends)
        return
    for envelope, event in fresh:
        outbox = Outbox(connection, CONSUMER, causation=envelope)
        await handlers[type(event)](HandlerContext(connection, outbox, envelope), event)


handle_batch = batch_handler(HANDLERS)

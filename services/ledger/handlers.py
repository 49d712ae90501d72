"""The ledger's message handlers: each checks the rules in `domain`, posts, and answers with events.

Every handler runs inside the runtime's transaction, together with the inbox row, so a request
posts at most once. The registry `HANDLERS` at the bottom maps request types to handlers.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import (
    AttributionShare,
    Event,
    PaymentMade,
    PaymentRejected,
    PaymentRequested,
    RecordSettlement,
    ReservationMade,
    ReservationRejected,
    ReservationRequested,
    SettlementRecorded,
    SpendRecorded,
    TransferLeg,
    TransferPosted,
)
from contracts.ledger import IatiTransactionType
from services.ledger import db, domain
from services.ledger.errors import LedgerRejection
from services.runtime.consumer import Handler, HandlerContext

# IATI transaction types (DOMAIN.md §3).
IATI_INCOMING_COMMITMENT: IatiTransactionType = 11
IATI_OUTGOING_COMMITMENT: IatiTransactionType = 2
IATI_DISBURSEMENT: IatiTransactionType = 3

# Accounts that may never be overdrawn (ARCHITECTURE.md §4, invariant 2).
NEVER_NEGATIVE_PREFIXES = ("pot:", "commitment:", "provider-paid:")


async def record_settlement(context: HandlerContext, command: RecordSettlement) -> None:
    """Credit the pot with each financial year of the settlement's profile."""
    transfer_ids = []
    for year in command.profile:
        legs = domain.settlement_legs(
            command.department_code, command.funding_stream_code, year.amount_pence
        )
        transfer = await _post(
            context,
            command.place_id,
            f"{command.settlement_id}/{year.financial_year}",
            year.financial_year,
            legs,
            IATI_INCOMING_COMMITMENT,
            description=f"settlement {command.settlement_id} ({command.spending_review_period})",
            department_code=command.department_code,
            funding_stream_code=command.funding_stream_code,
        )
        transfer_ids.append(transfer.transfer_id)
    await context.outbox.add(
        SettlementRecorded(
            place_id=command.place_id,
            settlement_id=command.settlement_id,
            department_code=command.department_code,
            funding_stream_code=command.funding_stream_code,
            spending_review_period=command.spending_review_period,
            profile=command.profile,
            transfer_id=transfer_ids[0],
        )
    )


async def reserve(context: HandlerContext, request: ReservationRequested) -> None:
    """Reserve money for an allocation, or say why not."""
    connection = context.connection
    pot_mix = await db.lock_pot_mix(connection, request.place_id, request.financial_year)
    try:
        legs, shares = domain.reservation_legs(
            request.place_id,
            request.allocation_id,
            request.amount_pence,
            request.financial_year,
            pot_mix,
        )
    except LedgerRejection as rejection:
        await context.outbox.add(
            ReservationRejected(
                place_id=request.place_id,
                allocation_id=request.allocation_id,
                amount_pence=request.amount_pence,
                reason=str(rejection),
                unreserved_pence=rejection.unreserved_pence,
            )
        )
        return
    transfer = await _post(
        context,
        request.place_id,
        f"reservation/{request.allocation_id}",
        request.financial_year,
        legs,
        IATI_OUTGOING_COMMITMENT,
        description=f"reservation for allocation {request.allocation_id}: {request.purpose}",
        allocation_id=request.allocation_id,
    )
    await db.insert_reservation(
        connection,
        request.place_id,
        request.allocation_id,
        request.financial_year,
        request.amount_pence,
    )
    await context.outbox.add(
        ReservationMade(
            place_id=request.place_id,
            allocation_id=request.allocation_id,
            financial_year=request.financial_year,
            amount_pence=request.amount_pence,
            attribution=_attribution(shares),
            transfer_id=transfer.transfer_id,
        )
    )


async def pay(context: HandlerContext, request: PaymentRequested) -> None:
    """Pay a provider from a reservation and publish the spend, attributed to its streams."""
    connection = context.connection
    financial_year = await db.find_reservation_year(
        connection, request.place_id, request.allocation_id
    )
    if financial_year is None:
        await _reject_payment(
            context,
            request,
            f"allocation {request.allocation_id} has no reservation in {request.place_id}'s ledger",
        )
        return
    commitment_mix = await db.lock_commitment_mix(
        connection, request.place_id, financial_year, request.allocation_id
    )
    try:
        legs, shares = domain.payment_legs(
            request.allocation_id, request.provider_id, request.amount_pence, commitment_mix
        )
    except LedgerRejection as rejection:
        await _reject_payment(context, request, str(rejection))
        return
    transfer = await _post(
        context,
        request.place_id,
        f"payment/{request.payment_id}",
        financial_year,
        legs,
        IATI_DISBURSEMENT,
        description=f"{request.payment_kind} {request.payment_id}",
        allocation_id=request.allocation_id,
        contract_id=request.contract_id,
        claim_id=request.claim_batch_id,
    )
    attribution = _attribution(shares)
    await context.outbox.add(
        PaymentMade(
            place_id=request.place_id,
            payment_id=request.payment_id,
            allocation_id=request.allocation_id,
            provider_id=request.provider_id,
            amount_pence=request.amount_pence,
            payment_kind=request.payment_kind,
            contract_id=request.contract_id,
            claim_batch_id=request.claim_batch_id,
            attribution=attribution,
            transfer_id=transfer.transfer_id,
        )
    )
    await context.outbox.add(
        SpendRecorded(
            place_id=request.place_id,
            spend_id=f"spend/{request.payment_id}",
            payment_id=request.payment_id,
            allocation_id=request.allocation_id,
            provider_id=request.provider_id,
            contract_id=request.contract_id,
            amount_pence=request.amount_pence,
            payment_kind=request.payment_kind,
            purpose=request.purpose,
            financial_year=financial_year,
            attribution=attribution,
            transfer_id=transfer.transfer_id,
        )
    )


async def _reject_payment(context: HandlerContext, request: PaymentRequested, reason: str) -> None:
    await context.outbox.add(
        PaymentRejected(
            place_id=request.place_id,
            payment_id=request.payment_id,
            allocation_id=request.allocation_id,
            amount_pence=request.amount_pence,
            reason=reason,
        )
    )


async def _post(
    context: HandlerContext,
    place_id: str,
    transfer_id: str,
    financial_year: str,
    legs: Sequence[domain.Leg],
    iati_transaction_type: IatiTransactionType,
    *,
    description: str,
    department_code: str | None = None,
    funding_stream_code: str | None = None,
    allocation_id: str | None = None,
    contract_id: str | None = None,
    claim_id: str | None = None,
) -> db.StoredTransfer:
    """Post one balanced transfer: link it into the place's chain, apply its legs, announce it."""
    domain.check_balanced(legs)
    connection = context.connection
    sequence, previous_hash = await db.lock_chain_head(connection, place_id)
    body = {
        "place_id": place_id,
        "sequence": sequence + 1,
        "transfer_id": transfer_id,
        "financial_year": financial_year,
        "iati_transaction_type": iati_transaction_type,
        "legs": [leg.__dict__ for leg in legs],
        "description": description,
    }
    transfer = db.StoredTransfer(
        place_id=place_id,
        sequence=sequence + 1,
        transfer_id=transfer_id,
        request_event_id=context.envelope.event_id,
        financial_year=financial_year,
        iati_transaction_type=iati_transaction_type,
        department_code=department_code,
        funding_stream_code=funding_stream_code,
        allocation_id=allocation_id,
        contract_id=contract_id,
        claim_id=claim_id,
        description=description,
        legs=list(legs),
        previous_hash=previous_hash,
        chain_hash=domain.chain_hash(previous_hash, body),
    )
    await db.insert_transfer(connection, transfer)
    for leg in legs:
        leg_department, leg_stream = domain.stream_of(leg.account)
        await db.apply_leg(
            connection,
            place_id,
            financial_year,
            leg,
            department_code=leg_department,
            funding_stream_code=leg_stream,
            must_not_go_negative=leg.account.startswith(NEVER_NEGATIVE_PREFIXES),
        )
    await context.outbox.add(_transfer_posted(transfer))
    return transfer


def _attribution(shares: Sequence[domain.StreamShare]) -> tuple[AttributionShare, ...]:
    return tuple(
        AttributionShare(
            department_code=share.department_code,
            funding_stream_code=share.funding_stream_code,
            amount_pence=share.amount_pence,
        )
        for share in shares
    )


def _transfer_posted(transfer: db.StoredTransfer) -> TransferPosted:
    return TransferPosted(
        place_id=transfer.place_id,
        transfer_id=transfer.transfer_id,
        financial_year=transfer.financial_year,
        legs=tuple(
            TransferLeg(account=leg.account, direction=leg.direction, amount_pence=leg.amount_pence)
            for leg in transfer.legs
        ),
        iati_transaction_type=transfer.iati_transaction_type,
        department_code=transfer.department_code,
        funding_stream_code=transfer.funding_stream_code,
        allocation_id=transfer.allocation_id,
        contract_id=transfer.contract_id,
        claim_id=transfer.claim_id,
        description=transfer.description,
        sequence=transfer.sequence,
        previous_hash=transfer.previous_hash,
        chain_hash=transfer.chain_hash,
    )


HANDLERS: dict[type[Event], Handler] = {
    RecordSettlement: record_settlement,
    ReservationRequested: reserve,
    PaymentRequested: pay,
}

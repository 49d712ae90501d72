"""Departments' subscriptions to spend attributed to their own streams: a paged feed, a
Server-Sent Events stream that resumes from `Last-Event-ID`, and signed webhooks with a delivery
log, a dead-letter list, replay from a point in time and deactivation. A webhook URL must pass
the rule of `webhook_urls` (https to public addresses, unless the operator allows the host).

(The fourth way needs no gateway at all: the Kafka topic `ledger.spend.v1` itself, keyed by
place, carrying every `SpendRecorded` with all departments' shares; see README.md.)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal, TypeVar

import asyncpg
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, ValidationError

from services.gateway import domain, intake, problems
from services.gateway.command_log.idempotency import idempotent
from services.gateway.delivery import db, webhooks
from services.gateway.delivery.webhook_urls import WebhookUrlRefused, check_url_resolved
from services.gateway.domain import Permission, PlaceSet, Principal
from services.gateway.identity.auth import (
    CALLER,
    Gateway,
    GuardedRoute,
    current_principal,
    require_places,
)
from services.gateway.intake import identifier_path
from services.gateway.problems import ProblemError

JsonObject = dict[str, Any]
SECRET_BYTES = 32
SECRET_SHOWN_ONCE = (
    "the signing secret is shown once, in the first answer; a repeat of the request does not "
    "show it again: deactivate this subscription and create another for a new secret"
)
M = TypeVar("M", bound=BaseModel)
SUBSCRIPTION_ID = Path(description="The subscription, as returned when it was made.")


class NewSubscription(BaseModel):
    """Where to deliver: an https URL on a public address that answers 2xx once it has the
    event (http, other ports and internal addresses only for hosts the operator allows)."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl


class Replay(BaseModel):
    """Deliver again every spend event received at or after `since`."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/departments/{department_code}",
        tags=["departments"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 404, 422, 429),
    )
    department_path = identifier_path()
    settings = gateway.settings
    url_policy = webhooks.url_policy(settings)
    resolve = webhooks.system_resolver(settings.webhook_resolve_timeout_s)

    @router.get("/spend")
    async def spend_feed(
        department_code: str = department_path,
        after: int = Query(0, ge=0, le=intake.INTEGER_MAX, description="Last sequence seen."),
        limit: int = Query(100, ge=1, le=settings.gateway_page_size_max),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Spend attributed to this department's streams, oldest first, after a sequence."""
        places = _may_read(principal, department_code)
        async with gateway.pool.acquire() as connection:
            rows = await db.department_spend_after(
                connection, department_code, after, limit, places.as_filter()
            )
        return {"department_code": department_code, "spend": [_feed_item(row) for row in rows]}

    @router.get("/spend/stream", response_class=StreamingResponse)
    async def spend_stream(
        request: Request,
        department_code: str = department_path,
        last_event_id: str | None = Header(
            None,
            pattern=r"^\d{0,19}$",
            description="Resume after this sequence; empty means from `after`, as if absent.",
        ),
        after: int = Query(0, ge=0, le=intake.INTEGER_MAX, description="Or resume after this."),
        principal: Principal = CALLER,
    ) -> StreamingResponse:
        """Server-Sent Events: one `spend` event per spend, its id the feed sequence."""
        _may_read(principal, department_code)
        start = after
        if last_event_id:  # an empty Last-Event-ID names no event (the SSE standard)
            if not last_event_id.isdigit() or int(last_event_id) > intake.INTEGER_MAX:
                raise problems.invalid(
                    "header.last-event-id", "sequence", "Last-Event-ID must be a sequence number"
                )
            start = int(last_event_id)
        return StreamingResponse(
            _events(gateway, request, department_code, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/webhooks", status_code=201, responses=problems.openapi_responses(409, 413))
    async def subscribe(
        request: Request,
        department_code: str = department_path,
        idempotency_key: str = Header(
            ..., min_length=1, max_length=settings.gateway_idempotency_key_length_max
        ),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Subscribe a URL to this department's spend in the places the caller's grants cover
        (every place for a national grant); the signing secret is shown only here."""
        places = _may_manage(principal, department_code)
        body = await _json_body(request, gateway)
        subscription = _validated(NewSubscription, body)
        try:
            await check_url_resolved(str(subscription.url), url_policy, resolve)
        except WebhookUrlRefused as refused:
            raise problems.invalid("url", refused.rule, refused.message) from None
        subscription_id = uuid.uuid4()
        secret = secrets.token_urlsafe(SECRET_BYTES)

        async def create(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
            created_at = await db.insert_subscription(
                connection,
                subscription_id,
                department_code,
                str(subscription.url),
                secret,
                principal.principal_id,
                places.as_filter(),
            )
            return 201, {
                "subscription_id": str(subscription_id),
                "department_code": department_code,
                "place_ids": places.as_filter(),
                "url": str(subscription.url),
                "secret": secret,
                "created_at": created_at.isoformat(),
            }

        return await idempotent(
            gateway,
            principal,
            key=idempotency_key,
            method_path=f"POST {request.url.path}",
            body=body,
            place_id="*",
            event_type="SubscribeWebhook",
            event_id=None,
            action=create,
            logged=without_secret,
        )

    @router.get("/webhooks")
    async def list_webhooks(
        department_code: str = department_path, principal: Principal = CALLER
    ) -> JsonObject:
        """This department's webhook subscriptions (without their secrets)."""
        places = _may_manage(principal, department_code)
        async with gateway.pool.acquire() as connection:
            rows = await db.subscriptions_of(connection, department_code, places.as_filter())
        return {"department_code": department_code, "webhooks": [_jsonable(r) for r in rows]}

    @router.get("/webhooks/{subscription_id}/deliveries")
    async def deliveries(
        department_code: str = department_path,
        subscription_id: uuid.UUID = SUBSCRIPTION_ID,
        status: Literal["pending", "delivered", "dead", "cancelled"] | None = Query(None),
        limit: int = Query(100, ge=1, le=settings.gateway_page_size_max),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """The delivery log: every delivery with every attempt; `status=dead` is the
        dead-letter list, `status=cancelled` what was pending when the webhook was stopped."""
        places = _may_manage(principal, department_code)
        async with gateway.pool.acquire() as connection:
            await _subscription(connection, department_code, subscription_id, places)
            rows = await db.deliveries_of(connection, subscription_id, status, limit)
        return {"subscription_id": str(subscription_id), "deliveries": [_jsonable(r) for r in rows]}

    @router.post(
        "/webhooks/{subscription_id}/replay", responses=problems.openapi_responses(409, 413)
    )
    async def replay(
        request: Request,
        department_code: str = department_path,
        subscription_id: uuid.UUID = SUBSCRIPTION_ID,
        idempotency_key: str = Header(
            ..., min_length=1, max_length=settings.gateway_idempotency_key_length_max
        ),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Deliver again every spend event received since a moment (dead letters included)."""
        places = _may_manage(principal, department_code)
        body = await _json_body(request, gateway)
        since = _validated(Replay, body).since

        async def queue(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
            found = await _subscription(connection, department_code, subscription_id, places)
            if not found["active"]:
                raise _stopped(found)
            count = await db.replay_since(connection, subscription_id, department_code, since)
            return 200, {"subscription_id": str(subscription_id), "queued": count}

        return await idempotent(
            gateway,
            principal,
            key=idempotency_key,
            method_path=f"POST {request.url.path}",
            body=body,
            place_id="*",
            event_type="ReplayWebhook",
            event_id=None,
            action=queue,
        )

    @router.post(
        "/webhooks/{subscription_id}/deactivate", responses=problems.openapi_responses(409)
    )
    async def deactivate(
        request: Request,
        department_code: str = department_path,
        subscription_id: uuid.UUID = SUBSCRIPTION_ID,
        idempotency_key: str = Header(
            ..., min_length=1, max_length=settings.gateway_idempotency_key_length_max
        ),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Stop a webhook: nothing more is queued for it and its pending deliveries are
        cancelled (they stay in the delivery log as `cancelled`). Stopping it again changes
        nothing; to start again, subscribe anew. No body."""
        places = _may_manage(principal, department_code)

        async def stop(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
            await _subscription(connection, department_code, subscription_id, places)
            cancelled = await db.deactivate_subscription(
                connection,
                department_code,
                subscription_id,
                principal.principal_id,
                webhooks.CANCELLED_REASON,
            )
            found = await _subscription(connection, department_code, subscription_id, places)
            return 200, {**_jsonable(found), "cancelled": cancelled}

        return await idempotent(
            gateway,
            principal,
            key=idempotency_key,
            method_path=f"POST {request.url.path}",
            body={},
            place_id="*",
            event_type="DeactivateWebhook",
            event_id=None,
            action=stop,
        )

    return router


def _stopped(subscription: JsonObject) -> ProblemError:
    detail = (
        f"webhook subscription {subscription['subscription_id']} was deactivated at "
        f"{subscription['deactivated_at'].isoformat()}; subscribe again to receive spend"
    )
    return ProblemError(
        409,
        "webhook-deactivated",
        detail,
        errors=[problems.field_problem("subscription_id", "active", detail)],
    )


def _may_read(principal: Principal, department_code: str) -> PlaceSet:
    """The places whose spend of the department the caller may read; 403 for none."""
    intake.check_storable(department_code, "department_code")
    return require_places(principal, Permission.READ_DEPARTMENT_SPEND, department_code)


def _may_manage(principal: Principal, department_code: str) -> PlaceSet:
    """The places the caller's webhooks of the department may cover; 403 for none."""
    intake.check_storable(department_code, "department_code")
    return require_places(principal, Permission.MANAGE_WEBHOOKS, department_code)


async def _subscription(
    connection: asyncpg.Connection,
    department_code: str,
    subscription_id: uuid.UUID,
    places: PlaceSet,
) -> JsonObject:
    """The subscription, when it covers only places the caller's grants cover; else 404 (a
    subscription for another place is not the caller's to see)."""
    found = await db.subscription(connection, department_code, subscription_id, places.as_filter())
    if found is None:
        raise ProblemError(
            404,
            "not-found",
            f"department {department_code} has no webhook subscription {subscription_id}",
        )
    return found


async def _json_body(request: Request, gateway: Gateway) -> JsonObject:
    raw = await intake.read_body(request, gateway.settings.gateway_request_bytes_max)
    return intake.parse_json_object(raw, gateway.settings.gateway_json_depth_max)


def _validated(model: type[M], body: JsonObject) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise problems.from_pydantic(error) from None


def without_secret(response_body: JsonObject) -> JsonObject:
    """A subscription's creation answer as kept for replay: the secret is shown once only."""
    return {**response_body, "secret": None, "secret_shown": SECRET_SHOWN_ONCE}


def _jsonable(row: JsonObject) -> JsonObject:
    return json.loads(json.dumps(row, default=str))


def _feed_item(row: JsonObject) -> JsonObject:
    return {
        "sequence": row["sequence"],
        "event_id": str(row["event_id"]),
        "place_id": row["place_id"],
        "received_at": row["received_at"].isoformat(),
        "spend": row["record"],
    }


async def _events(
    gateway: Gateway, request: Request, department_code: str, after: int
) -> AsyncIterator[str]:
    """The SSE body: rows after `after`, then new ones as they arrive, with keep-alives. The
    token is looked up again at least every `gateway_token_cache_s`: the stream ends once it is
    revoked or expired, and follows the places its grants cover now."""
    settings = gateway.settings
    last_sent = time.monotonic()
    hashed = domain.token_hash(_bearer_token(request))
    yield f"retry: {int(settings.gateway_sse_poll_interval_s * 1000) + 500}\n\n"
    while not await request.is_disconnected():
        places = await _places_still_granted(gateway, hashed, department_code)
        if places is None:
            yield "event: end\ndata: the token was revoked, expired or lost this department\n\n"
            return
        async with gateway.pool.acquire() as connection:
            rows = await db.department_spend_after(
                connection,
                department_code,
                after,
                settings.gateway_page_size_max,
                places.as_filter(),
            )
        for row in rows:
            after = row["sequence"]
            data = json.dumps(_feed_item(row), separators=(",", ":"))
            yield f"id: {after}\nevent: spend\ndata: {data}\n\n"
            last_sent = time.monotonic()
        if not rows:
            if time.monotonic() - last_sent >= settings.gateway_sse_keepalive_s:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            await asyncio.sleep(settings.gateway_sse_poll_interval_s)


def _bearer_token(request: Request) -> str:
    """The bearer token the stream was opened with (its door has checked it already)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    assert scheme.lower() == "bearer" and token, "the stream's door checked its token"
    return token.strip()


async def _places_still_granted(
    gateway: Gateway, hashed: bytes, department_code: str
) -> PlaceSet | None:
    """The places the token may still read of the department; None once it may read none."""
    try:
        principal = await current_principal(gateway, hashed)
    except ProblemError:
        return None
    places = principal.places(Permission.READ_DEPARTMENT_SPEND, department_code)
    return None if places.is_empty else places

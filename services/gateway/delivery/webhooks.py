"""Webhook delivery: a background loop that posts due deliveries, signed, and records each
attempt. A delivery is a row per subscription and spend event, so a receiver gets each event
until it answers 2xx, and can drop repeats by the `Singlepot-Event-Id` header.

Every connection goes through `GuardedResolver`, which resolves the host again and checks each
address against the URL rule (`webhook_urls`), so a delivery never reaches the gateway's own
network; redirects are not followed and only the start of an answer is read (`WebhookClient`).

Deliveries are posted without rounds (`Dispatcher`): up to `webhook_concurrency_max` POSTs are
in flight, each outcome is recorded as soon as its POST ends, and a freed slot takes up the next
due delivery, so one slow receiver delays nobody else's. Each delivery is claimed in a commit
before its POST (`claim_due_deliveries`): no other replica posts it meanwhile, at most
`webhook_subscription_concurrency_max` of one subscription are in flight, and a process that
dies mid-POST leaves its claims to lapse, after which another takes them up (one that stops
hands them back at once, `Dispatcher.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult
from asyncpg.pool import PoolConnectionProxy
from opentelemetry.trace import SpanKind

from services.gateway.delivery import db, domain, webhook_urls
from services.gateway.delivery.webhook_urls import Resolver, WebhookUrlPolicy, WebhookUrlRefused
from services.gateway.errors import GatewayError
from services.gateway.settings import GatewaySettings
from services.runtime import telemetry
from services.runtime.host import ServiceHost

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "Singlepot-Event-Id"
TIMESTAMP_HEADER = "Singlepot-Timestamp"
SIGNATURE_HEADER = "Singlepot-Signature"
ATTEMPT_HEADER = "Singlepot-Delivery-Attempt"
SUBSCRIPTION_HEADER = "Singlepot-Subscription-Id"
# Answers that redirect, when they carry a Location (never followed: see `_post_once`).
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ERROR_LENGTH_MAX = 500
CANCELLED_REASON = "cancelled: the subscription was deactivated"
ABANDONED_REASON = (
    "no outcome recorded: the gateway process posting it stopped (or lost its database) "
    "before its claim lapsed"
)
INTERRUPTED_REASON = (
    "interrupted: the gateway process posting it stopped mid-POST and handed it back, due again "
    "at once (the receiver may have it already: the event id says)"
)
# How long a stopping loop tries to record the outcomes it has and hand back its POSTs before it
# leaves their claims to lapse.
HAND_BACK_TIMEOUT_S = 2.0
# How long the delivery loop waits after a round failed (the database away) before the next.
RETRY_AFTER_FAILURE_S = 0.5
# Longest the loop waits for a connection to listen on; without one it polls.
LISTEN_CONNECT_TIMEOUT_S = 5.0


def url_policy(settings: GatewaySettings) -> WebhookUrlPolicy:
    """Where the settings let webhooks go (see `webhook_urls`)."""
    return WebhookUrlPolicy.of(
        webhook_urls.split_list(settings.webhook_allowed_hosts),
        settings.webhook_allow_http,
        (int(port) for port in webhook_urls.split_list(settings.webhook_allowed_ports)),
    )


def system_resolver(timeout_s: float) -> Resolver:
    """The operating system's resolver, without blocking the event loop, within `timeout_s`."""

    async def resolve(host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
        )
        return list(dict.fromkeys(str(info[4][0]) for info in found))

    return resolve


class WebhookConnectRefused(GatewayError, OSError):
    """A webhook's connection refused by the URL rule, or its host not resolved: no connection
    was opened. An OSError too, as aiohttp expects of a resolver's failure."""


class GuardedResolver(AbstractResolver):
    """Resolves a webhook's host for every new connection and checks each address against the
    URL rule, so the client connects only to addresses it checked: a name that resolves
    somewhere else by the time of a delivery (DNS rebinding) reaches nothing. TLS still
    verifies the certificate against the host name (aiohttp passes it as SNI). An address
    literal never reaches a resolver (aiohttp connects to it as written): `WebhookClient`
    checks it before it posts."""

    def __init__(self, policy: WebhookUrlPolicy, resolve: Resolver) -> None:
        self._policy = policy
        self._resolve = resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in await self.allowed_addresses(host, port)
        ]

    async def allowed_addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host` to try, each checked (an allowed host's as they resolve);
        WebhookConnectRefused if any is refused or the host does not resolve."""
        allowed = self._policy.host_allowed(host)
        literal = webhook_urls.parse_addresses([webhook_urls.normal_host(host)])
        try:
            resolved = [str(address) for address in literal] or await self._resolve(host, port)
            addresses = webhook_urls.parse_addresses(resolved)
            if not allowed:
                webhook_urls.check_addresses(host, addresses)
        except (OSError, TimeoutError) as error:
            raise WebhookConnectRefused(f"could not resolve {host}: {error}") from error
        except WebhookUrlRefused as refused:
            raise WebhookConnectRefused(f"refused: {refused.message}") from None
        if not addresses:
            raise WebhookConnectRefused(f"could not resolve {host}: no address")
        return [str(address) for address in addresses]

    async def close(self) -> None:
        return None


class WebhookClient:
    """The HTTP client the delivery loop posts with (aiohttp: about a twentieth of httpx's CPU
    per POST at fifty in flight, bench/NOTES.md). Connections go only to addresses the URL rule
    allows (`GuardedResolver`, resolving again for every new connection), redirects are not
    followed, no proxy is taken from the environment (the address checked must be the address
    reached), and only the start of an answer is read."""

    def __init__(self, settings: GatewaySettings, resolve: Resolver | None = None) -> None:
        self.guard = GuardedResolver(
            url_policy(settings),
            resolve or system_resolver(settings.webhook_resolve_timeout_s),
        )
        self._connections_max = settings.webhook_concurrency_max
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookClient:
        connector = aiohttp.TCPConnector(
            limit=self._connections_max,
            resolver=self.guard,
            use_dns_cache=False,  # every new connection resolves, and is checked, again
            ssl=ssl.create_default_context(cafile=certifi.where()),
        )
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, auto_decompress=False
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str], bytes_max: int) -> Answer:
        """POST `body` to `url` and read at most `bytes_max` of the answer. Raises
        WebhookConnectRefused (nothing was sent) or aiohttp's ClientError."""
        assert self._session is not None, "use the client in `async with`"
        host = urlsplit(url).hostname or ""
        if webhook_urls.parse_addresses([webhook_urls.normal_host(host)]):
            await self.guard.allowed_addresses(host, 0)  # a literal: no resolver is asked
        async with self._session.post(
            url, data=body, headers=headers, allow_redirects=False
        ) as response:
            read = 0
            while read < bytes_max and (chunk := await response.content.readany()):
                read += len(chunk)
            if read >= bytes_max:
                response.close()  # the rest is never read: the connection is not reused
            redirect = response.status in REDIRECT_CODES and "Location" in response.headers
            return Answer(response.status, redirect)


class Answer(NamedTuple):
    """What a receiver answered: its status code, and whether it was a redirect."""

    status_code: int
    redirect: bool


def guarded_client(settings: GatewaySettings, resolve: Resolver | None = None) -> WebhookClient:
    """The client deliveries are posted with (`WebhookClient`), to use in `async with`."""
    return WebhookClient(settings, resolve)


def payload(delivery: dict[str, Any]) -> bytes:
    """The body a receiver gets: the spend as the department sees it, with its feed number."""
    document = {
        "event_id": str(delivery["event_id"]),
        "sequence": delivery["sequence"],
        "department_code": delivery["department_code"],
        "place_id": delivery["place_id"],
        "spend": json.loads(delivery["record"]),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_headers(delivery: dict[str, Any], body: bytes, now_s: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(delivery["event_id"]),
        TIMESTAMP_HEADER: str(now_s),
        SIGNATURE_HEADER: domain.webhook_signature(delivery["secret"], now_s, body),
        ATTEMPT_HEADER: str(delivery["attempts"] + 1),
        SUBSCRIPTION_HEADER: str(delivery["subscription_id"]),
    }


async def _post(
    client: WebhookClient, delivery: dict[str, Any], settings: GatewaySettings
) -> tuple[int | None, str]:
    """Post one delivery, in a span of the spend event's trace: the trace context stored with
    the spend, so it survives a restart (rows fed before it was stored fall back to the trace
    this process remembers, if any)."""
    with telemetry.span(
        "gateway webhook deliver",
        "gateway",
        kind=SpanKind.CLIENT,
        traceparent=delivery.get("traceparent") or telemetry.remembered_trace(delivery["event_id"]),
        attributes={
            telemetry.EVENT_ID_ATTRIBUTE: str(delivery["event_id"]),
            telemetry.PLACE_ATTRIBUTE: delivery["place_id"],
            "singlepot.department_code": delivery["department_code"],
            "singlepot.delivery_attempt": delivery["attempts"] + 1,
        },
    ) as span:
        status_code, error = await _post_once(client, delivery, settings)
        if span is not None and status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        return status_code, error


async def _post_once(
    client: WebhookClient, delivery: dict[str, Any], settings: GatewaySettings
) -> tuple[int | None, str]:
    """Post one delivery: (status code, error) — error is '' when the receiver took it. The
    whole attempt, answer included, has `webhook_timeout_s`, and at most
    `webhook_response_bytes_max` of the answer is read: a receiver cannot hold the loop."""
    body = payload(delivery)
    headers = signed_headers(delivery, body, int(time.time()))
    try:
        async with asyncio.timeout(settings.webhook_timeout_s):
            answer = await client.post(
                delivery["url"], body, headers, settings.webhook_response_bytes_max
            )
    except WebhookConnectRefused as refused:
        return None, f"ConnectError: {refused}"[:ERROR_LENGTH_MAX]
    except aiohttp.ClientConnectorError as error:
        if isinstance(error.os_error, WebhookConnectRefused):
            return None, f"ConnectError: {error.os_error}"[:ERROR_LENGTH_MAX]
        return None, f"ConnectError: {error}"[:ERROR_LENGTH_MAX]
    except aiohttp.ClientError as error:
        return None, f"{error.__class__.__name__}: {error}"[:ERROR_LENGTH_MAX]
    except TimeoutError:
        return None, f"no complete answer within {settings.webhook_timeout_s} s"
    status_code = answer.status_code
    if 200 <= status_code < 300:
        return status_code, ""
    if answer.redirect:
        return status_code, (
            f"receiver answered {status_code}; redirects are not followed, register the final URL"
        )
    return status_code, f"receiver answered {status_code}"


def default_claimant() -> str:
    """Who holds a claim, for an operator reading `webhook_deliveries.claimed_by`: the host,
    the process and the loop (one process may run several, as tests do)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Keeps up to `webhook_concurrency_max` webhook POSTs in flight: claims due deliveries for
    the free slots, posts each in a task of its own, and gathers each outcome as its POST ends,
    for `record` to store. Nothing waits for the slowest receiver of a batch."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: WebhookClient,
        settings: GatewaySettings,
        *,
        claimant: str | None = None,
        on_posted: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.client = client
        self.settings = settings
        self.claimant = claimant or default_claimant()
        # Each POST in flight: its delivery, and when it started (monotonic).
        self.posting: dict[asyncio.Task[None], tuple[dict[str, Any], float]] = {}
        self.ended: list[db.DeliveryOutcome] = []
        # Whether the last claim may have left due deliveries behind: it filled every slot it
        # had. (A POST that ends frees its slot and its subscription's share: the loop records
        # its outcome and claims then, `record_and_claim`.)
        self.more_may_be_due = True
        self.last_claim_at = float("-inf")
        self._on_posted = on_posted

    @property
    def free_slots(self) -> int:
        return self.settings.webhook_concurrency_max - len(self.posting)

    async def claim(self) -> int:
        """Claim due deliveries for the free slots (committed before any POST) and start posting
        them; return how many were taken up, cancelled and dead-lettered ones included."""
        slots = self.free_slots
        if slots <= 0:
            return 0
        self.last_claim_at = time.monotonic()
        async with self.pool.acquire() as connection:
            taken = await db.claim_due_deliveries(connection, self._claim(slots))
        self.more_may_be_due = len(taken) == slots
        for delivery in taken:
            if delivery["fate"] == "claimed":
                self._start(delivery)
        return len(taken)

    def claim_wanted(self, poll_interval_s: float) -> bool:
        """Whether a slot is free and due deliveries may be waiting for it: the last claim
        left some behind, or the poll's time has come (retries fall due on their own time).
        Another replica's POSTs may hold a subscription's share, which this one cannot see
        end: its deliveries wait for the poll at most."""
        if self.free_slots <= 0:
            return False
        polled_s = time.monotonic() - self.last_claim_at
        return self.more_may_be_due or polled_s >= poll_interval_s

    async def record_and_claim(self, claiming: bool) -> None:
        """Record the outcomes that ended, then claim for the free slots if `claiming` or if
        any outcome was recorded (its slot, and its subscription's share, are free now).

        In that order, and after every recording: a claim counts a subscription's deliveries
        still being posted, and one whose outcome is not yet recorded still counts. Measured
        in the end-to-end benchmark, a claim made beside the recording, or only when a full
        share's first POST ended, found the share still full, and the rest of its deliveries
        waited for the poll: 40 a second for one department."""
        recorded = await self.record()
        if claiming or recorded:
            await self.claim()

    def _claim(self, deliveries_max: int) -> db.DeliveryClaim:
        settings = self.settings
        return db.DeliveryClaim(
            claim_id=uuid.uuid4(),
            claimant=self.claimant,
            deliveries_max=deliveries_max,
            subscription_in_flight_max=settings.webhook_subscription_concurrency_max,
            held_s=domain.claim_held_s(settings.webhook_timeout_s, settings.webhook_claim_margin_s),
            attempts_max=settings.webhook_attempts_max,
            cancelled_reason=CANCELLED_REASON,
            abandoned_reason=ABANDONED_REASON,
        )

    def _start(self, delivery: dict[str, Any]) -> None:
        task = asyncio.create_task(self._attempt(delivery), name="webhook delivery")
        self.posting[task] = (delivery, time.monotonic())
        task.add_done_callback(self._ended)

    async def _attempt(self, delivery: dict[str, Any]) -> None:
        started = time.monotonic()
        status_code, error = await _post(self.client, delivery, self.settings)
        duration_ms = int((time.monotonic() - started) * 1000)
        self.ended.append(outcome(self.settings, delivery, status_code, error, duration_ms))

    def _ended(self, task: asyncio.Task[None]) -> None:
        # Its outcome is in `ended`; the loop, nudged, records it and then claims for the slot.
        self.posting.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            # A bug, not a receiver's failure (those are outcomes): the claim lapses and the
            # delivery is tried again.
            log.error("a webhook delivery failed unexpectedly", exc_info=task.exception())
        if self._on_posted is not None:
            self._on_posted()

    async def record(self) -> int:
        """Store the outcomes of the POSTs that ended since the last call, in one statement;
        if the database is away they are kept for the next call (their claims still hold)."""
        outcomes, self.ended = self.ended, []
        if not outcomes:
            return 0
        try:
            async with self.pool.acquire() as connection:
                recorded = await db.record_delivery_outcomes(connection, outcomes)
        except BaseException:
            self.ended[:0] = outcomes
            raise
        if recorded < len(outcomes):
            log.warning(
                "%d webhook outcomes came after their claims lapsed; not recorded",
                len(outcomes) - recorded,
            )
        return recorded

    async def until_all_posted(self) -> None:
        """Until every POST in flight has ended, recording each outcome as its POST ends."""
        while self.posting:
            await asyncio.wait(list(self.posting), return_when=asyncio.FIRST_COMPLETED)
            await self.record()
        await self.record()

    async def stop(self) -> None:
        """Stop posting: the POSTs in flight are cancelled and handed back, each logged as an
        interrupted attempt and due again at once, and the outcomes that ended are recorded, so
        a rolling restart delays no delivery by a claim's lapse. If the database does not
        answer within `HAND_BACK_TIMEOUT_S` the claims lapse instead, as a killed process's
        do, and another process takes their deliveries up then."""
        posting = dict(self.posting)
        for task in posting:
            task.cancel()
        await asyncio.gather(*posting, return_exceptions=True)
        now = time.monotonic()
        self.ended.extend(
            interrupted(self.settings, delivery, int((now - started) * 1000))
            for task, (delivery, started) in posting.items()
            if task.cancelled()
        )
        try:
            async with asyncio.timeout(HAND_BACK_TIMEOUT_S):
                await self.record()
        except Exception as error:  # the database is away: the claims lapse
            log.warning("webhook deliveries not handed back on stop: %r", error)


async def deliver_due(pool: asyncpg.Pool, client: WebhookClient, settings: GatewaySettings) -> int:
    """One pass: claim the due deliveries (up to `webhook_concurrency_max`), post them, record
    each outcome as its POST ends; return how many were taken up."""
    dispatcher = Dispatcher(pool, client, settings)
    try:
        taken = await dispatcher.claim()
        await dispatcher.until_all_posted()
    finally:
        await dispatcher.stop()
    return taken


def outcome(
    settings: GatewaySettings,
    delivery: dict[str, Any],
    status_code: int | None,
    error: str,
    duration_ms: int,
) -> db.DeliveryOutcome:
    """Delivered; or due again after a back-off; or, out of attempts, a dead letter."""
    attempt = delivery["attempts"] + 1
    if not error:
        status, retry_in_s = "delivered", 0.0
    elif attempt >= settings.webhook_attempts_max:
        status, retry_in_s = "dead", 0.0
    else:
        status = "pending"
        retry_in_s = domain.retry_delay_s(
            attempt, settings.webhook_retry_backoff_s, settings.webhook_retry_backoff_max_s
        )
    return db.DeliveryOutcome(
        delivery["delivery_id"],
        delivery["claim_id"],
        status,
        retry_in_s,
        error,
        attempt,
        status_code,
        duration_ms,
    )


def interrupted(
    settings: GatewaySettings, delivery: dict[str, Any], duration_ms: int
) -> db.DeliveryOutcome:
    """An attempt cut short by its own process stopping: due again at once (no back-off: the
    receiver did nothing wrong), or a dead letter if it was the last attempt, as an abandoned
    last attempt is."""
    attempt = delivery["attempts"] + 1
    status = "dead" if attempt >= settings.webhook_attempts_max else "pending"
    return db.DeliveryOutcome(
        delivery["delivery_id"],
        delivery["claim_id"],
        status,
        0.0,
        INTERRUPTED_REASON,
        attempt,
        None,
        duration_ms,
    )


class DeliveryWakeUp:
    """Wakes the delivery loop when a commit queued deliveries (the projector's, perhaps in
    another process) rather than at its next poll: one connection of the pool LISTENs. Losing
    that connection wakes the loop too, and the next wait listens on another; while the
    database is away the loop simply polls."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._queued = asyncio.Event()
        self._look = False
        self._connection: PoolConnectionProxy | None = None

    def wake(self, *_signal: object) -> None:
        """Deliveries were queued (or the listening connection was lost): look now."""
        self._look = True
        self._queued.set()

    def nudge(self) -> None:
        """A POST ended: its outcome is to be recorded now."""
        self._queued.set()

    async def wait(self, timeout_s: float) -> bool:
        """Until deliveries are queued, a POST ends, or `timeout_s` passes (retries fall due on
        their own time, so the poll stays). A wake-up that came while the loop was busy returns
        at once. True when due deliveries are to be looked for (queued, or the poll's time)."""
        await self._listen()
        timed_out = False
        try:
            await asyncio.wait_for(self._queued.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
        self._queued.clear()
        look, self._look = self._look or timed_out, False
        return look

    async def _listen(self) -> None:
        if self._connection is not None and db.connection_alive(self._connection):
            return
        await self.close()
        try:
            self._connection = await self.pool.acquire(timeout=LISTEN_CONNECT_TIMEOUT_S)
            await db.listen_for_queued_deliveries(self._connection, self.wake)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("webhook delivery cannot listen for queued deliveries yet: %r", error)
            await self.close()
            return
        # Deliveries queued while nothing listened sent no notification this loop heard.
        self.wake()

    async def close(self) -> None:
        """UNLISTEN and give the listening connection back to the pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a connection already lost has nothing to undo
                await asyncio.wait_for(
                    db.stop_listening_for_queued_deliveries(connection, self.wake),
                    LISTEN_CONNECT_TIMEOUT_S,
                )
            with contextlib.suppress(Exception):
                await self.pool.release(connection, timeout=5)


async def deliver_continuously(
    pool: asyncpg.Pool,
    client: WebhookClient,
    settings: GatewaySettings,
    wake_up: DeliveryWakeUp,
    claimant: str | None = None,
) -> None:
    """Post due deliveries for as long as it runs: after each POST that ends, its outcome is
    recorded and its slot takes up the next due delivery; with nothing due, it waits for a
    commit that queues deliveries, or the poll (retries fall due on their own time)."""
    dispatcher = Dispatcher(pool, client, settings, claimant=claimant, on_posted=wake_up.nudge)
    poll_s = settings.webhook_poll_interval_s
    look = True
    try:
        while True:
            try:
                await dispatcher.record_and_claim(look or dispatcher.claim_wanted(poll_s))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is away; due deliveries stay due, claimed ones lapse and are due
                # again, and outcomes not yet recorded are kept.
                log.exception("webhook delivery failed; retrying")
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                look = True
                continue
            look = dispatcher.claim_wanted(poll_s) or await wake_up.wait(poll_s)
    finally:
        await dispatcher.stop()


def delivery_loop(settings: GatewaySettings) -> Callable[[ServiceHost], Awaitable[None]]:
    """The background task that delivers webhooks for as long as the gateway runs."""

    async def deliver_webhooks(host: ServiceHost) -> None:
        assert host.pool is not None
        wake_up = DeliveryWakeUp(host.pool)
        try:
            async with guarded_client(settings) as client:
                await deliver_continuously(host.pool, client, settings, wake_up)
        finally:
            await wake_up.close()

    return deliver_webhooks

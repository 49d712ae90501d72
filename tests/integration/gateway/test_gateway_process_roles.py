"""The gateway as three processes, one per role (`singlepot serve gateway --role api`,
`projector`, `delivery`), beside the real ledger: a settlement posted to the API process reaches
the ledger, comes back as an event the projector process writes into the pot (and the command's
status), and a spend event reaches a department's webhook through the delivery process. Each
role answers /readyz on its own; only the API role serves the API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.delivery.domain import signature_is_valid
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.system import service_definition
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    settlement_body,
    token_for,
)
from tests.integration.gateway.test_gateway_subscriptions import spend
from tests.support.kafka import eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROLES = ("api", "projector", "delivery")


@contextmanager
def gateway_roles(
    settings: RuntimeSettings, database_url: str, logs: Path
) -> Iterator[dict[str, str]]:
    """One `singlepot serve gateway --role R` process per role; yields each role's URL."""
    urls, processes = {}, []
    try:
        for role in ROLES:
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": settings.effective_bootstrap_servers(),
                "SINGLEPOT_TOPIC_PREFIX": settings.topic_prefix,
                "SINGLEPOT_GATEWAY_HOST": "127.0.0.1",
                "SINGLEPOT_GATEWAY_PORT": str(port),
                "SINGLEPOT_LOCAL_DEFAULTS_ALLOWED": "true",
                "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "2000",
                "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
                "SINGLEPOT_CONSUMER_FETCH_MAX_WAIT_MS": "20",
                "SINGLEPOT_OUTBOX_POLL_INTERVAL_S": "0.01",
                "SINGLEPOT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
                "SINGLEPOT_WEBHOOK_POLL_INTERVAL_S": "0.02",
                "SINGLEPOT_WEBHOOK_RETRY_BACKOFF_S": "0.05",
                "SINGLEPOT_WEBHOOK_RETRY_BACKOFF_MAX_S": "0.2",
            }
            command = [str(Path(sys.executable).parent / "singlepot"), "serve", "gateway"]
            with (logs / f"gateway-{role}.log").open("ab") as log:
                processes.append(
                    subprocess.Popen(
                        [*command, "--role", role], env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            urls[role] = f"http://127.0.0.1:{port}"
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


async def ready(client: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        response = await client.get(f"{url}/readyz")
    except httpx.TransportError:
        return None  # still starting
    return dict(response.json()) if response.status_code == 200 else None


async def test_a_command_and_a_spend_flow_through_the_api_projector_and_delivery_processes(
    settings, database_url, tmp_path
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    department = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver(failures_per_event=1)
    async with (
        running(service_definition("ledger"), settings),
        receiver.running(),
        httpx.AsyncClient(timeout=10) as client,
    ):
        with gateway_roles(settings, database_url, tmp_path) as urls:
            readiness = {
                role: await eventually(lambda u=url: ready(client, u), timeout_s=60)
                for role, url in urls.items()
            }
            api, projector = urls["api"], urls["projector"]
            subscribed = await client.post(
                f"{api}/api/v1/departments/DWP/webhooks",
                json={"url": receiver.url},
                headers=bearer(department, "sub-1"),
            )
            assert subscribed.status_code == 201, subscribed.text
            accepted = await client.post(
                f"{api}/api/v1/places/GM/settlements",
                json=settlement_body("S-1", 1_000_000),
                headers=bearer(finance, "k-1"),
            )
            assert accepted.status_code == 202, accepted.text

            async def settled_pot() -> dict[str, Any] | None:
                pot = await client.get(f"{api}/api/v1/places/GM/pot", headers=bearer(finance))
                body: dict[str, Any] = pot.json()
                return body if body["streams"] else None

            pot = await eventually(settled_pot, timeout_s=60)
            status = await client.get(
                f"{api}{accepted.headers['Location']}", headers=bearer(finance)
            )
            await publish(settings, spend(1, ("DWP", 4_000), ("DHSC", 500)))
            await eventually(lambda: _accepted(receiver), timeout_s=60)
            projector_api = await client.get(f"{projector}/api/v1/me", headers=bearer(finance))

    assert all(checks["ready"] for checks in readiness.values())
    assert "consumer" in readiness["projector"] and "consumer" not in readiness["api"]
    assert "consumer" not in readiness["delivery"]
    assert pot["streams"][0]["settled_pence"] == 1_000_000
    assert status.json()["status"] == "done"
    assert projector_api.status_code == 404
    (delivered,) = set(receiver.accepted)
    assert len(receiver.attempts) == 2  # refused once, then accepted: retried by delivery
    attempt = receiver.attempts[-1]
    headers = attempt["headers"]
    secret = subscribed.json()["secret"]
    timestamp = int(headers["singlepot-timestamp"])
    assert signature_is_valid(secret, timestamp, attempt["body"], headers["singlepot-signature"])
    assert delivered == headers["singlepot-event-id"]


async def _accepted(receiver: WebhookReceiver) -> bool:
    return bool(receiver.accepted)

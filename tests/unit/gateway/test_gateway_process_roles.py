"""What each gateway process role runs: the API role serves HTTP and consumes nothing, the
projector consumes the topics into the read models (and keeps the OCDS releases its fetches
left waiting) and serves no API, delivery only posts webhooks; `all` (what `singlepot up`
runs) does the three."""

from __future__ import annotations

import pytest

from services.gateway.app import SPEND_GROUP, SUBSCRIPTIONS, Role, definition
from services.gateway.settings import GatewaySettings
from singlepot.system import service_definition


def parts(role: Role) -> dict[str, bool]:
    made = definition(GatewaySettings(), role)
    assert made.name == "gateway"  # one schema and one consumer group, whatever the role
    tasks = [getattr(task, "__name__", "") for task in made.background_tasks]
    return {
        # The projector also keeps the OCDS releases its fetches left waiting.
        "consumes": made.subscriptions == SUBSCRIPTIONS
        and bool(made.handlers)
        and made.batch_handler is not None
        and made.separate_groups == (SPEND_GROUP,)
        and "keep_waiting_releases" in tasks,
        "serves the API": made.extend_http is not None,
        "delivers": "deliver_webhooks" in tasks,
    }


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.API, {"consumes": False, "serves the API": True, "delivers": False}),
        (Role.PROJECTOR, {"consumes": True, "serves the API": False, "delivers": False}),
        (Role.DELIVERY, {"consumes": False, "serves the API": False, "delivers": True}),
        (Role.ALL, {"consumes": True, "serves the API": True, "delivers": True}),
    ],
)
def test_each_role_runs_its_own_part_of_the_gateway(role: Role, expected: dict[str, bool]) -> None:
    assert parts(role) == expected


def test_a_role_that_does_nothing_consumes_nothing_at_all() -> None:
    for role in (Role.API, Role.DELIVERY):
        made = definition(GatewaySettings(), role)
        assert made.subscriptions == () and dict(made.handlers) == {}
        assert made.separate_groups == ()


def test_only_the_gateway_takes_a_role_and_only_a_known_one() -> None:
    assert service_definition("gateway", "projector").extend_http is None
    with pytest.raises(ValueError, match="unknown gateway role 'bogus'"):
        service_definition("gateway", "bogus")
    with pytest.raises(ValueError, match="--role is the gateway's only"):
        service_definition("ledger", "api")

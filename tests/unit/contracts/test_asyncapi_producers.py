"""The AsyncAPI document lists, as sent by a service, every topic its code publishes on."""

from __future__ import annotations

import re
from pathlib import Path

from contracts import topics
from contracts.allocations import ProcessDueWork
from contracts.base import EVENT_TYPES
from contracts.decisions import REFUSAL_TOPICS, CommandRefused
from services.gateway.command_table import COMMAND_ROUTES
from singlepot import asyncapi
from singlepot.publishers import SERVICES_ROOT, events_built_in
from singlepot.system import SERVICE_NAMES

EVENT_NAMES = {event_class.__name__: event_class for event_class in EVENT_TYPES.values()}
# Found by text rather than by the generator's syntax walk, so the two can disagree.
CONSTRUCTION = re.compile(r"\b([A-Z][A-Za-z]+)(?:\.model_validate(?:_json)?)?\(")


def sends(document: dict, service: str) -> set[str]:
    return {
        operation["channel"]["$ref"].removeprefix("#/channels/").replace("_", ".")
        for name, operation in document["operations"].items()
        if name.startswith(f"{service}_sends_")
    }


def topics_built_by(service: str) -> set[str]:
    built = set()
    for path in (SERVICES_ROOT / service).rglob("*.py"):
        for name in CONSTRUCTION.findall(path.read_text(encoding="utf-8")):
            if name == CommandRefused.__name__:  # published on the decider's refusal topic
                built.add(REFUSAL_TOPICS[service])
            elif name in EVENT_NAMES:
                built.add(EVENT_NAMES[name].topic)
    return built


def test_every_topic_a_service_publishes_on_is_listed_as_sent_by_it() -> None:
    document = asyncapi.document()
    for service in SERVICE_NAMES:
        missing = topics_built_by(service) - sends(document, service)
        assert not missing, f"{service} publishes on {missing}, which the document does not list"


def test_every_service_sends_dead_letters_and_only_the_ledger_answers() -> None:
    document = asyncapi.document()
    for service in SERVICE_NAMES:
        assert topics.DEAD_LETTER in sends(document, service)
    results_senders = {
        name.split("_sends_")[0]
        for name, operation in document["operations"].items()
        if "_sends_" in name and operation["channel"]["$ref"].endswith("ledger_results_v1")
    }
    assert results_senders == {"ledger"}


def test_the_allocations_clock_is_listed_as_sending_its_own_commands() -> None:
    # The hand-kept list this replaced named only the gateway on allocations' command topic.
    assert ProcessDueWork.topic in sends(asyncapi.document(), "allocations")


def test_the_gateway_sends_the_topic_of_every_command_route() -> None:
    assert {route.command.topic for route in COMMAND_ROUTES} <= sends(
        asyncapi.document(), "gateway"
    )


def test_a_newly_built_event_is_found(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text(
        "async def handle(context, event):\n"
        "    await context.outbox.add(SpendRecorded.model_validate({}))\n"
        "    return ReservationMade(place_id='P')\n",
        encoding="utf-8",
    )
    assert {event.__name__ for event in events_built_in(tmp_path)} == {
        "SpendRecorded",
        "ReservationMade",
    }


def test_the_one_refusal_event_is_a_message_of_each_deciding_service_s_channel() -> None:
    channels = asyncapi.document()["channels"]
    carrying = {
        channel["address"]
        for channel in channels.values()
        if CommandRefused.event_type in channel["messages"]
    }
    assert carrying == set(REFUSAL_TOPICS.values())
    for service, topic in REFUSAL_TOPICS.items():
        assert topic in sends(asyncapi.document(), service)

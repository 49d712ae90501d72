"""The command table: every command a person may send has exactly one endpoint, paths are
unique, path ids are fields of their command, and actor fields are never in request bodies."""

from __future__ import annotations

from contracts import topics
from contracts.base import EVENT_TYPES
from services.gateway.command_table import COMMAND_ROUTES, SERVICE_ONLY_COMMANDS
from services.gateway.commands.api import body_schema

COMMAND_TOPICS = (topics.LEDGER_REQUESTS, topics.ALLOCATIONS_COMMANDS, topics.OUTCOMES_COMMANDS)


def test_every_command_a_person_may_send_has_an_endpoint() -> None:
    commands = {name for name, cls in EVENT_TYPES.items() if set(cls.topics) & set(COMMAND_TOPICS)}
    routed = {route.command.__name__ for route in COMMAND_ROUTES}
    assert sorted(commands - SERVICE_ONLY_COMMANDS - routed) == []
    assert sorted(routed & SERVICE_ONLY_COMMANDS) == []


def test_each_path_is_used_once() -> None:
    paths = [route.path for route in COMMAND_ROUTES]
    assert len(paths) == len(set(paths))


def test_path_ids_are_fields_of_their_command() -> None:
    for route in COMMAND_ROUTES:
        assert "place_id" in route.path_fields, route.path
        missing = set(route.path_fields) - set(route.command.model_fields)
        assert missing == set(), f"{route.path}: {missing}"


def test_request_bodies_leave_out_path_ids_and_actor_fields() -> None:
    for route in COMMAND_ROUTES:
        schema = body_schema(route, {})
        hidden = set(route.path_fields) | set(route.actor_fields)
        assert hidden & set(schema["properties"]) == set(), route.path
        assert hidden & set(schema["required"]) == set(), route.path


def test_commands_with_a_who_field_record_the_caller() -> None:
    by_command = {route.command.__name__: route.actor_fields for route in COMMAND_ROUTES}
    assert by_command["ProposeAllocation"] == ("proposed_by",)
    assert by_command["DecideAllocation"] == ("decided_by",)
    assert by_command["CastVote"] == ("member_id",)
    assert by_command["SignOffAllocation"] == ("accounting_officer_id",)
    # Configuring a board names its accounting officer; that is data, not the caller.
    assert by_command["ConfigureBoard"] == ()

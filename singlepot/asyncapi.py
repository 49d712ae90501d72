"""Builds the AsyncAPI 3.0 document of singlepot's topics and events from `contracts`.

Each topic is a channel; each event type on it is a message whose payload is the envelope with
that event's schema as `payload`. Which service receives what comes from the services' own
definitions; which sends what, from the event classes each service's code builds
(`singlepot.publishers`), so the document cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from contracts import ALL_TOPICS
from contracts.base import EVENT_TYPES
from contracts.envelope import Envelope
from singlepot.publishers import producers
from singlepot.system import SERVICE_NAMES, service_definition


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    for event_type, event_class in sorted(EVENT_TYPES.items()):
        schemas[event_type] = event_class.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(schemas[event_type].pop("$defs", {}))
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": (event_class.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "event_id": {"type": "string", "format": "uuid"},
                    "event_type": {"type": "string", "const": event_type},
                    "traceparent": {"type": "string"},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "schema_version": {"const": event_class.schema_version},
                            "payload": {"$ref": f"#/components/schemas/{event_type}"},
                        },
                    },
                ]
            },
        }
    subscriptions = {name: service_definition(name).subscriptions for name in SERVICE_NAMES}
    consumers = _consumers(subscriptions)
    sending = producers(subscriptions)
    for topic in ALL_TOPICS:
        on_topic = sorted(t for t, c in EVENT_TYPES.items() if topic in c.topics)
        channel_id = topic.replace(".", "_")
        channels[channel_id] = {
            "address": topic,
            "description": "Kafka key: "
            + ("contract_id" if topic.startswith("outcomes.") else "place_id")
            + ".",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in on_topic},
        }
        for service in sending.get(topic, []):
            operations[f"{service}_sends_{channel_id}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
            }
        for service in consumers.get(topic, []):
            operations[f"{service}_receives_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "singlepot events",
            "version": "1.0.0",
            "description": "Every topic and event exchanged by the singlepot services.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _consumers(subscriptions: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    consumers: dict[str, list[str]] = {}
    for name, topics in subscriptions.items():
        for topic in topics:
            consumers.setdefault(topic, []).append(name)
    return consumers

"""The batch consumer's garbage-collector tuning: a throughput service (the ledger, outcomes, the
gateway's projector on its own) collects its young objects rarely, while a process that answers
HTTP on the same event loop (the gateway's API) keeps Python's short collections, because one
collection of the large young generation held the loop for tens of milliseconds
(bench/NOTES.md, "GET pot p99")."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.gateway.app import Role, definition
from services.gateway.settings import GatewaySettings
from services.runtime.batch_consumer import COLLECTOR_THRESHOLDS, _tune_collector


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_restored")
def test_a_throughput_consumer_collects_less_often() -> None:
    gc.set_threshold(700, 10, 10)
    _tune_collector(collect_less_often=True)
    assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector_restored")
def test_a_process_serving_requests_keeps_short_collections() -> None:
    gc.set_threshold(700, 10, 10)
    _tune_collector(collect_less_often=False)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() > 0  # what the started service holds is still left out


@pytest.mark.parametrize(
    ("role", "latency_sensitive"),
    [(Role.ALL, True), (Role.API, True), (Role.PROJECTOR, False), (Role.DELIVERY, False)],
)
def test_the_gateway_keeps_short_collections_where_it_serves_http(
    role: Role, latency_sensitive: bool
) -> None:
    made = definition(GatewaySettings(), role)
    assert made.serves_latency_sensitive_requests is latency_sensitive

"""Property-based tests of the real gateway from its own OpenAPI document (schemathesis, every
check it has, the equivalent of `--checks all`, derandomized so every run draws the same cases):
for every operation, generated valid and invalid requests never get a 5xx; every response has a
documented status, content type, headers and body; a request the document calls valid is not
refused (no "valid but refused"), and one it calls invalid is not accepted.

Two kinds of "valid but refused" are inherent and allowed, each narrowly: JSON Schema cannot
tell `5.0` from `5` (the gateway refuses a whole number written as a float for an integer,
deliberately: money is never a float), and it cannot compare two fields of one body (an end
date after a start date; a virement between two different streams): those rules are listed in
CROSS_FIELD_RULES and every other refusal of a valid request fails the test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.core.result import Ok

from singlepot.local.ports import free_port
from tests.integration.gateway.gateway_support import gateway_app, token_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # schemathesis' own strategies use `random`; not ours to change.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES_PER_OPERATION = 8
ALL_CHECKS = list(CHECKS.get_all())
# Rules relating two fields of one body, which JSON Schema cannot state: a valid-by-schema
# request refused by one of these (and by nothing else) is not a disagreement.
CROSS_FIELD_RULES = (
    "must be after start_date",
    "must not be before starts_on",
    "must move money between two different funding streams",
    "must be one of the members",
    "more than once",
    "add up to",
    "instalments",
    "must not be after",
)
# Streams never end, so a generated request would wait forever; the SSE test covers it.
STREAMING_PATHS = ("/spend/stream",)
GRANTS = (
    "finance",
    "chair",
    "accounting_officer",
    "verifier",
    "auditor",
    "provider:PROV-A",
    "department:DWP",
)


@contextmanager
def gateway_in_a_thread(settings) -> Iterator[str]:
    """The real gateway on a free port, in a thread with its own event loop."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(gateway_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    # As a load balancer would, send requests only once the gateway says it is ready: it joins
    # its consumer groups in the background, and /readyz answers 503 until then.
    deadline = time.monotonic() + 60
    while httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not become ready"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_generated_requests_never_get_a_5xx_and_every_response_matches_the_schema(
    settings, database_url
) -> None:
    token = asyncio.run(token_for(database_url, "fuzzer", *GRANTS))
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    with gateway_in_a_thread(settings) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        results = list(schema.get_all_operations())
        assert [r for r in results if not isinstance(r, Ok)] == [], "the OpenAPI document is valid"
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        operations = [op for op in operations if not op.path.endswith(STREAMING_PATHS)]
        assert len(operations) > 30
        for operation in operations:
            positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
            _exercise(positive, url, auth, statuses, failures)
            try:
                negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
                _exercise(negative, url, auth, statuses, failures)
            except Unsatisfiable:
                # Nothing of this operation can be made invalid: it has no body and no query,
                # and schemathesis finds no path value that breaks the path's text rules.
                assert not operation.body and not operation.query

    # The generated requests reached the API's logic, not only its doors.
    assert statuses[200] and statuses[202] and statuses[422], statuses
    assert not any(status >= 500 for status in statuses)
    assert failures == []


def _exercise(
    strategy, url: str, auth: dict[str, str], statuses: Counter[int], failures: list[str]
) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        # The fuzzer's real token replaces the generated one, but a negative case that leaves
        # the Authorization header out is sent without it rather than with it added back.
        generated = {name.lower() for name in case.headers or {}}
        declared = any(
            parameter.name.lower() == "authorization" for parameter in case.operation.headers
        )
        headers = auth if "authorization" in generated or not declared else {}
        response = case.call(base_url=url, headers=headers)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=ALL_CHECKS, headers=headers)
        except BaseExceptionGroup as group:
            failures.extend(_disagreements(case, response, group.exceptions))
        except AssertionError as failure:
            failures.extend(_disagreements(case, response, [failure]))

    run()


def _disagreements(case, response, found) -> list[str]:
    """The failures that are real disagreements between the document and the gateway."""
    kept = []
    for failure in found:
        if type(failure).__name__ == "RejectedPositiveData" and _inherent_refusal(case, response):
            continue
        kept.append(f"{case.operation.label}: {failure}\n  {response.text[:300]}")
    return kept


def _inherent_refusal(case, response) -> bool:
    """A valid-by-schema request refused only for what JSON Schema cannot say."""
    if _writes_a_whole_float(case.body):
        return True
    errors = response.json().get("errors", []) if response.status_code == 422 else []
    return bool(errors) and all(
        any(rule in error["message"] for rule in CROSS_FIELD_RULES) for error in errors
    )


def _writes_a_whole_float(value) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_writes_a_whole_float(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_writes_a_whole_float(item) for item in value)
    return False

"""Property-based tests of the real gateway from its own OpenAPI document (schemathesis): for
every operation, generated valid and invalid requests never get a 5xx, and every response has a
documented status, a documented content type and a body matching the documented schema."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from singlepot.local.ports import free_port
from tests.integration.gateway.gateway_support import gateway_app, token_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # schemathesis' own strategies use `random`; not ours to change.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
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
    auth = {"Authorization": f"Bearer {token}"}
    with gateway_in_a_thread(settings) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        results = list(schema.get_all_operations())
        assert [r for r in results if not isinstance(r, Ok)] == [], "the OpenAPI document is valid"
        operations = [result.ok() for result in results if isinstance(result, Ok)]
        operations = [op for op in operations if not op.path.endswith(STREAMING_PATHS)]
        assert len(operations) > 30
        for operation in operations:
            _exercise(
                operation.as_strategy(generation_mode=GenerationMode.POSITIVE), url, auth, statuses
            )
            try:
                negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
                _exercise(negative, url, auth, statuses)
            except Unsatisfiable:
                # Nothing of this operation can be made invalid (no parameters, no body).
                assert not operation.body and not operation.query and not operation.path_parameters

    # The generated requests reached the API's logic, not only its doors.
    assert statuses[200] and statuses[202] and statuses[422], statuses
    assert not any(status >= 500 for status in statuses)


def _exercise(strategy, url: str, auth: dict[str, str], statuses: Counter[int]) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        response = case.call(base_url=url, headers=auth)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=auth)

    run()

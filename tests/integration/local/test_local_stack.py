"""Integration tests: the local stack starts PostgreSQL and the broker together."""

import socket
from pathlib import Path

import pytest

from singlepot.local.errors import LocalStackError
from singlepot.local.ports import free_port
from singlepot.local.stack import LocalStack, create_topics

pytestmark = pytest.mark.integration


async def test_the_local_stack_starts_both_parts_and_stops_them_in_reverse(
    tmp_path: Path,
) -> None:
    with LocalStack(tmp_path, free_port(), free_port(), throwaway=True) as stack:
        await create_topics(stack.bootstrap_servers, ["stack.events"], partitions=2)
        assert stack.postgres.is_running() and stack.broker.is_running()
        assert stack.database_url == stack.postgres.url
    assert not stack.postgres.is_running() and not stack.broker.is_running()
    assert (tmp_path / "broker.log").exists() and (tmp_path / "postgres" / "cluster").is_dir()


def test_the_local_stack_stops_postgres_when_the_broker_cannot_start(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        stack = LocalStack(tmp_path, free_port(), squatter.getsockname()[1], throwaway=True)
        with pytest.raises(LocalStackError, match="SINGLEPOT_BROKER_PORT"):
            stack.start()
    assert not stack.postgres.is_running()

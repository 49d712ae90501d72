"""The browser tests share one headless Chromium, started before the first of them and stopped
after the last (each test still opens its pages in a browser context of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.browser.browser_support import chromium_for_the_tests


@pytest.fixture(scope="package", autouse=True)
async def shared_chromium() -> AsyncIterator[None]:
    async with chromium_for_the_tests():
        yield

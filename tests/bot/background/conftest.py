"""Fixtures the background-work tests share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.integrations.fake_receivers import FakeReceivers, start_receivers


@pytest.fixture
async def receivers() -> AsyncIterator[FakeReceivers]:
    """The fake receivers of pages (`tests.integrations.fake_receivers`) on loopback."""
    fake, server, task = await start_receivers()
    try:
        yield fake
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)

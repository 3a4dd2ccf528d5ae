"""A connection that never finishes its request's headers is closed, on the API and on the
gateway (issue 20: a half-open request used to keep its socket for good)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from services.api.app import create_app as create_api
from services.realtime.app import create_app as create_gateway
from shared.runner import make_runner
from shared.settings import Settings
from shared.timeouts import REQUEST_HEAD_TIMEOUT_S

APPS: dict[str, Callable[[Settings], web.Application]] = {
    "api": create_api,
    "realtime": create_gateway,
}
# Far beyond the short head timeout these tests serve with: a connection still open by then
# was never going to be closed.
BOUND_S = 30.0


@pytest.fixture(params=sorted(APPS))
async def served(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[int]:
    runner = make_runner(APPS[request.param](settings), settings, head_timeout_s=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def test_a_connection_sending_half_its_headers_is_closed(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), BOUND_S) == b""  # closed, nothing answered
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    assert await asyncio.wait_for(reader.read(), BOUND_S) == b""
    writer.close()


async def test_a_whole_request_is_still_answered(served: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), BOUND_S)
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


def test_both_services_serve_with_the_head_timeout(settings: Settings) -> None:
    runner = make_runner(web.Application(), settings)
    assert runner._kwargs["keepalive_timeout"] == REQUEST_HEAD_TIMEOUT_S <= 30

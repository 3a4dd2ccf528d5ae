"""A stopped gateway hands its walkers over in turns over SHUTDOWN_DRAIN_S (issue 23): its sockets
close with 1001 a few at a time, the ones still open keep relaying meanwhile, and a walker who
reconnects to another instance finds the partner's last location in its `hello`."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from shared.jsonutil import loads
from shared.logging_setup import AccessLogger
from shared.runner import stop_listening_and_drain
from shared.settings import Settings
from tests.realtime.conftest import (
    RECEIVE_TIMEOUT_S,
    Gateway,
    Walk,
    closed_with,
    create_walk,
    gateway_process,
    next_of_type,
    receive,
)
from tests.support import make_settings

WALKS = 4
DRAIN_S = 4.0
EXIT_BOUND_S = 30.0


def located(walk_index: int, walker_index: int) -> dict[str, float]:
    """A location no other walker of the test sends."""
    return {"lat": 37.5 + walk_index / 100, "lng": 127.0 + walker_index / 100}


class Reader:
    """The one reader of a socket: its locations in a queue, then its close code."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.locations: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = asyncio.create_task(self._read())

    async def _read(self) -> int | None:
        while True:
            message = await receive(self.ws)
            if message.type is not WSMsgType.TEXT:
                return self.ws.close_code
            body = loads(message.data)
            if body["type"] == "location":
                self.locations.put_nowait(body)

    async def next_location(self) -> Any:
        return await asyncio.wait_for(self.locations.get(), RECEIVE_TIMEOUT_S)


async def test_a_stopped_gateway_closes_in_turns_while_the_rest_keep_relaying(
    settings: Settings, db: asyncpg.Connection, session: aiohttp.ClientSession
) -> None:
    drain_settings = settings.model_copy(update={"shutdown_drain_s": DRAIN_S})
    stopping = TestServer(create_app(drain_settings))
    other = TestServer(create_app(settings))
    for server in (stopping, other):
        await server.start_server(access_log_class=AccessLogger)
    try:
        walks = [await create_walk(db, settings) for _ in range(WALKS)]
        gateway = Gateway(stopping, session)
        pairs: list[tuple[Reader, Reader]] = []
        for index, walk in enumerate(walks):
            inviter = Reader((await gateway.join(walk, walk.inviter))[0])
            invitee = Reader((await gateway.join(walk, walk.invitee))[0])
            await inviter.ws.send_json(located(index, 0))
            await invitee.ws.send_json(located(index, 1))
            assert (await invitee.next_location())["lat"] == located(index, 0)["lat"]
            assert (await inviter.next_location())["lat"] == located(index, 1)["lat"]
            pairs.append((inviter, invitee))

        loop = asyncio.get_running_loop()
        closes = {
            reader.closed: (index, side)
            for index, pair in enumerate(pairs)
            for side, reader in enumerate(pair)
        }
        started = loop.time()
        assert stopping.runner is not None
        # As shared/runner.py does on SIGTERM: stop listening and drain, then aiohttp's cleanup.
        stopped = asyncio.create_task(stop_listening_and_drain(stopping.runner, stopping.app))

        done, _ = await asyncio.wait(closes, return_when=asyncio.FIRST_COMPLETED)
        first_closed_at = loop.time()
        assert len(done) <= 2, "the drain closed most sockets in its first turn"
        first = next(iter(done))
        assert first.result() == 1001
        first_walk, first_side = closes[first]

        # The walk that joined last closes last: it still relays, both ways.
        last_inviter, last_invitee = pairs[-1]
        await last_inviter.ws.send_json({"lat": 36.0, "lng": 128.0})
        assert (await last_invitee.next_location())["lat"] == 36.0
        await asyncio.sleep(0.6)  # past the partner's 0.5 s location gap
        await last_invitee.ws.send_json({"lat": 36.5, "lng": 128.5})
        assert (await last_inviter.next_location())["lat"] == 36.5
        assert not last_inviter.closed.done() and not last_invitee.closed.done()

        # The first walker closed comes back on the other instance: the partner's last location.
        walk = walks[first_walk]
        walker = (walk.inviter, walk.invitee)[first_side]
        returned, hello = await Gateway(other, session).join(walk, walker)
        partner_last = located(first_walk, 1 - first_side)
        assert hello["partner_last"] is not None
        assert (hello["partner_last"]["lat"], hello["partner_last"]["lng"]) == (
            partner_last["lat"],
            partner_last["lng"],
        )

        done, _ = await asyncio.wait(closes, timeout=EXIT_BOUND_S)
        assert len(done) == len(closes), "a socket was still open after the drain"
        assert {task.result() for task in done} == {1001}
        assert loop.time() - started >= DRAIN_S / 2, "the closes were not spread over the window"
        assert loop.time() - first_closed_at > 0.5
        await asyncio.wait_for(stopped, EXIT_BOUND_S)
        await returned.close()
    finally:
        for server in (stopping, other):
            await server.close()


async def test_sigterm_drains_over_shutdown_drain_s_and_exits(
    database_url: str,
    redis_url: str,
    db: asyncpg.Connection,
    session: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    settings = make_settings(database_url, redis_url, shutdown_drain_s=2.0)
    walks: list[Walk] = [await create_walk(db, settings) for _ in range(3)]
    async with gateway_process(settings, tmp_path) as gateway:
        sockets = []
        for walk in walks:
            for walker in (walk.inviter, walk.invitee):
                ws = await session.ws_connect(gateway.url(walk.id, walker.token))
                await next_of_type(ws, "hello")
                sockets.append(ws)
        loop = asyncio.get_running_loop()
        started = loop.time()
        gateway.process.send_signal(signal.SIGTERM)
        closed_at = []
        for ws in sockets:
            assert await closed_with(ws) == 1001
            closed_at.append(loop.time() - started)
        assert max(closed_at) - min(closed_at) >= 1.0, closed_at
        assert await asyncio.wait_for(gateway.process.wait(), EXIT_BOUND_S) == 0

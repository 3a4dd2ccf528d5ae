"""A closed socket is freed by refcounting alone, so memory comes back after connect/close churn.

(The gateway never runs automatic full GC passes, see services/realtime/gc_policy.py: anything a
closed socket left in a reference cycle would stay for good.)
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import tracemalloc
import uuid
from typing import Any

import aiohttp
import asyncpg
import psutil
import pytest
import redis.asyncio as aioredis

from services.realtime.direct_ws import DirectWebSocketResponse
from services.realtime.keys import rooms_key
from services.realtime.limits import GatewayLimits
from shared.settings import Settings
from shared.walk_events import publish_walk_ended
from tests.realtime.conftest import (
    Gateway,
    GatewayProcess,
    Walk,
    closed_with,
    create_walk,
    eventually,
    next_of_type,
)

SERVER_SIDE = ("aiohttp.web_", "aiohttp.http_writer", "aiohttp._websocket", "services.realtime")


def server_side(obj: Any) -> bool:
    module = type(obj).__module__
    return isinstance(module, str) and module.startswith(SERVER_SIDE)


def objects_in_cycles() -> list[Any]:
    """Everything only a cyclic GC pass would free right now."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def every_way_a_socket_closes(
    gateway: Gateway, walk: Walk, stranger_token: str, db: asyncpg.Connection
) -> None:
    inviter, _ = await gateway.join(walk, walk.inviter)
    invitee, _ = await gateway.join(walk, walk.invitee)
    await inviter.send_json({"lat": 1, "lng": 2})
    await next_of_type(invitee, "location")
    await invitee.send_str("not json")
    await next_of_type(invitee, "error")
    replacement, _ = await gateway.join(walk, walk.invitee)  # 4009
    assert await closed_with(invitee) == 4009
    await replacement.send_str("x" * 5000)  # 1009
    assert await closed_with(replacement) == 1009
    await inviter.close()  # by the client
    for token in (None, stranger_token):  # 4001, 4003
        refused = await gateway.connect(walk.id, token)
        assert await closed_with(refused) in (4001, 4003)


async def test_closed_sockets_leave_no_server_object_in_a_reference_cycle(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, settings: Settings, redis: aioredis.Redis
) -> None:
    from tests.realtime.conftest import create_user

    stranger = await create_user(db, settings)
    broker = gateway.server.app[rooms_key].broker
    await every_way_a_socket_closes(gateway, walk, stranger.token, db)  # warm-up
    objects_in_cycles()
    # Earlier tests' objects may still be on their way out; only what this test made counts.
    existing = {id(o) for o in gc.get_objects() if server_side(o)}
    gc.disable()
    try:
        for _ in range(5):
            await every_way_a_socket_closes(gateway, walk, stranger.token, db)
        ended = await create_walk(db, settings)  # and 4004
        ws, _ = await gateway.join(ended, ended.inviter)
        await publish_walk_ended(redis, uuid.UUID(ended.id), "finished")
        assert await closed_with(ws) == 4004
        await eventually(lambda: broker.member_count() == 0)
        await asyncio.sleep(0.2)  # the handlers' last steps after the close
        leftovers = [
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in objects_in_cycles()
            if server_side(o) and id(o) not in existing
        ]
    finally:
        gc.enable()
    assert leftovers == [], sorted(set(leftovers))


OPEN_WALKS = 25
# What is allocated under the handler and kept while a socket is open: aiohttp's response,
# reader and writer, the Connection, the handler's frames (tracemalloc). 4.7-5.2 KB now; 5.6-5.7
# KB with the writer's lock, task set and random-bits partial and the response's headers; 6.2 KB
# with aiohttp's heartbeat timer; 8.1 KB when the read loop ran three coroutines deep and
# `request.query` kept the parsed token.
HANDLER_BYTES_PER_SOCKET = 5600
# All the server keeps for a socket: the same, and what was allocated with aiohttp's connection
# handler on the stack (the connection, the parsed request, the middlewares' frames, what the
# handler's frames hold). 13.4-13.8 KB now; 14.6-14.7 KB with the same writer's and response's
# leftovers; 17.4 KB with the error middleware's frame, the heartbeat timer and the HTTP parser
# kept past the upgrade. (This test server's connections are aiohttp's own, not the gateway's
# GatewayRequestHandler: what that one saves, bench/socket_memory.py measures.)
SERVER_BYTES_PER_SOCKET = 14500
GATEWAY = tracemalloc.Filter(True, "*/services/realtime/*", all_frames=True)
AIOHTTP_SERVER = tracemalloc.Filter(True, "*/aiohttp/web_protocol.py", all_frames=True)


def kept(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, *where: tracemalloc.Filter
) -> int:
    """Bytes allocated in between with one of these frames on the stack, and still alive."""
    grown = after.filter_traces(where).compare_to(before.filter_traces(where), "filename")
    return sum(stat.size_diff for stat in grown)


# CPython gives instances key-sharing dicts only while every instance of a class sets its
# attributes in the same order; one odd socket earlier in the process (another test's) costs
# every later WebSocketResponse ~0.8 KB more. Measured in a process of its own, the figure is
# the design's, whatever order the suite runs in.
FRESH_PROCESS = "WITHBOWWOW_FRESH_PROCESS"


def test_handshake_memory_is_measured_in_a_fresh_process() -> None:
    test = f"{__file__}::test_an_open_socket_keeps_little_of_its_handshake"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        env={**os.environ, FRESH_PROCESS: "1"},
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout, result.stdout[-3000:]


@pytest.mark.skipif(
    not os.environ.get(FRESH_PROCESS),
    reason="run by test_handshake_memory_is_measured_in_a_fresh_process",
)
async def test_an_open_socket_keeps_little_of_its_handshake(
    gateway: Gateway, db: asyncpg.Connection, settings: Settings
) -> None:
    walks = [await create_walk(db, settings) for _ in range(OPEN_WALKS)]
    await gateway.join(walks[0], walks[0].inviter)  # warm-up: caches, pools
    # and the pub/sub probes' first round, which makes each batch writer's Redis connection
    await asyncio.sleep(3 * GatewayLimits().pubsub_probe_s)
    tracemalloc.start(30)
    try:
        gc.collect()
        before = tracemalloc.take_snapshot()
        sockets = [
            await gateway.join(walk, walker)
            for walk in walks[1:]
            for walker in (walk.inviter, walk.invitee)
        ]
        await asyncio.sleep(0.2)  # presence and Redis replies settle
        gc.collect()  # what the handshakes left in reference cycles is not kept
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    by_handler = kept(before, after, GATEWAY) / len(sockets)
    by_server = kept(before, after, GATEWAY, AIOHTTP_SERVER) / len(sockets)
    for ws, _ in sockets:
        await ws.close()
    assert by_handler <= HANDLER_BYTES_PER_SOCKET, f"{by_handler:.0f} bytes a socket"
    assert by_server <= SERVER_BYTES_PER_SOCKET, f"{by_server:.0f} bytes a socket, all told"


# CPython 3.11 puts at most 30 names in a class's shared keys, fewer with each instance made
# before they are complete (direct_ws.py).
SHARED_KEYS_MAX = 29


async def test_an_open_sockets_response_sets_no_attribute_its_init_did_not(
    gateway: Gateway, walk: Walk
) -> None:
    """So the shared keys are complete once the first response is made, however many handshakes
    wait for their turn before the first is prepared (without it: +1.3 KB a socket after 100
    concurrent connects, bench/socket_memory.py --warmup-concurrency 100)."""
    at_init = set(vars(DirectWebSocketResponse()))
    assert len(at_init) <= SHARED_KEYS_MAX
    await gateway.join(walk, walk.inviter)
    (connection,) = gateway.server.app[rooms_key].broker.all_members()
    assert set(vars(connection.ws)) - at_init == set()


CHURN_WALKS = 400
CHURN_ROUNDS = 3
ALLOWED_GROWTH = 1.15


async def churn_round(
    session: aiohttp.ClientSession, gateway: GatewayProcess, walks: list[Walk]
) -> None:
    """Both walkers of every walk connect, exchange a location and close."""
    limit = asyncio.Semaphore(100)

    async def one_walk(walk: Walk) -> None:
        async with limit:
            a = await session.ws_connect(gateway.url(walk.id, walk.inviter.token))
            b = await session.ws_connect(gateway.url(walk.id, walk.invitee.token))
            await next_of_type(a, "hello")
            await next_of_type(b, "hello")
            await a.send_json({"lat": 1, "lng": 2})
            await next_of_type(b, "location")
            await a.close()
            await b.close()

    await asyncio.gather(*(one_walk(walk) for walk in walks))


async def test_memory_returns_after_connect_close_churn(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    gateway, _ = gateway_processes
    walks = [await create_walk(db, settings) for _ in range(CHURN_WALKS)]
    process = psutil.Process(gateway.process.pid)
    # No connection limit: an open websocket holds its connector slot.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await churn_round(session, gateway, walks)  # warm-up: pools, caches, allocator arenas
        await asyncio.sleep(1)
        baseline = process.memory_info().rss
        for _ in range(CHURN_ROUNDS):
            await churn_round(session, gateway, walks)
        await asyncio.sleep(1)
        after = process.memory_info().rss
    closed = CHURN_ROUNDS * CHURN_WALKS * 2
    assert after <= baseline * ALLOWED_GROWTH, (
        f"RSS {baseline / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB after {closed} closed sockets"
    )

"""Every close is one RFC 6455 closing handshake: the server sends exactly one Close frame, with
the contract's code, whoever started it (CONTRACT section 4). A strict client (raw_ws.py) counts
the Close frames; a second one makes browsers report 1006 ("Close received after close")."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from services.realtime.limits import GatewayLimits
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from tests.realtime.conftest import Gateway, Walk, Walker
from tests.realtime.raw_ws import CLOSE, RawSocket, open_raw
from tests.realtime.test_replace_and_end import end_walk
from tests.support import Api


async def join_raw(gateway: Gateway, walk: Walk, walker: Walker) -> RawSocket:
    port = gateway.server.port
    assert port is not None
    ws = await open_raw(port, f"/ws/walk-together/{walk.id}?token={walker.token}")
    assert ws.status == 101
    await ws.next_json("hello")
    return ws


def one_close(closes: list[object], code: int) -> None:
    assert [frame.close_code for frame in closes] == [code]  # type: ignore[attr-defined]


async def test_walk_end_sends_one_close_frame_4004(
    gateway: Gateway, walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    await end_walk(db, redis, walk, "finished")
    one_close(await ws.until_closed(), 4004)
    assert any(b'"walk_ended"' in frame.payload for frame in ws.frames)


async def test_replacement_sends_one_close_frame_4009(gateway: Gateway, walk: Walk) -> None:
    first = await join_raw(gateway, walk, walk.inviter)
    second = await join_raw(gateway, walk, walk.inviter)
    one_close(await first.until_closed(), 4009)
    second.send_close()
    one_close(await second.until_closed(), 1000)


async def test_sign_out_sends_one_close_frame_4001(gateway: Gateway, walk: Walk, api: Api) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    headers = {"Authorization": f"Bearer {walk.inviter.token}"}
    await api.call("POST", "/auth/logout-all", headers=headers, expect=204)
    one_close(await ws.until_closed(), 4001)


async def test_flooding_sends_one_close_frame_4008(gateway: Gateway, walk: Walk) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    for i in range(200):
        ws.send_json({"lat": 1, "lng": 1, "timestamp": i})
    one_close(await ws.until_closed(), 4008)


async def test_invalid_messages_send_one_close_frame_4008(gateway: Gateway, walk: Walk) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    for _ in range(GatewayLimits().invalid_in_a_row):
        ws.send_json({})
    one_close(await ws.until_closed(), 4008)


async def test_a_message_over_4_kib_sends_one_close_frame_1009(
    gateway: Gateway, walk: Walk
) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    ws.send_json({"lat": 1, "lng": 1, "pad": "x" * 5000})
    one_close(await ws.until_closed(), 1009)


async def test_a_client_that_closes_first_gets_one_close_frame_back(
    gateway: Gateway, walk: Walk
) -> None:
    ws = await join_raw(gateway, walk, walk.inviter)
    ws.send_close(1000)
    one_close(await ws.until_closed(), 1000)


async def test_a_refused_handshake_sends_one_close_frame_4001(gateway: Gateway, walk: Walk) -> None:
    port = gateway.server.port
    assert port is not None
    ws = await open_raw(port, f"/ws/walk-together/{walk.id}?token=forged")
    assert ws.status == 101
    one_close(await ws.until_closed(), 4001)


async def test_an_unknown_walk_sends_one_close_frame_4002(gateway: Gateway, walk: Walk) -> None:
    port = gateway.server.port
    assert port is not None
    ws = await open_raw(port, f"/ws/walk-together/{uuid.uuid4()}?token={walk.inviter.token}")
    one_close(await ws.until_closed(), 4002)


async def test_shutdown_sends_one_close_frame_1001(settings: Settings, walk: Walk) -> None:
    server = TestServer(create_app(settings))
    await server.start_server(access_log_class=AccessLogger)
    try:
        port = server.port
        assert port is not None
        ws = await open_raw(port, f"/ws/walk-together/{walk.id}?token={walk.inviter.token}")
        await ws.next_json("hello")
        task = asyncio.create_task(ws.until_closed())
        await server.close()
        one_close(await task, 1001)
    finally:
        await server.close()


async def test_a_client_that_never_answers_the_close_gets_no_second_close_frame(
    settings: Settings, walk: Walk, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    server = TestServer(create_app(settings, GatewayLimits(close_timeout_s=0.2)))
    await server.start_server(access_log_class=AccessLogger)
    try:
        port = server.port
        assert port is not None
        ws = await open_raw(port, f"/ws/walk-together/{walk.id}?token={walk.inviter.token}")
        await ws.next_json("hello")
        await end_walk(db, redis, walk, "finished")
        while await ws.read_frame() is not None:  # never answering
            pass
        assert [frame.close_code for frame in ws.frames if frame.opcode == CLOSE] == [4004]
    finally:
        await server.close()

"""Real gateway processes: relay between two of them, SIGTERM, and what the access log shows."""

from __future__ import annotations

import asyncio
import re
import signal
import uuid

import aiohttp
import asyncpg

from tests.realtime.conftest import GatewayProcess, Walk, closed_with, next_of_type
from tests.support import sample_value, scrape

EXIT_BOUND_S = 15.0


async def test_locations_and_presence_cross_between_processes(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    walk: Walk,
    session: aiohttp.ClientSession,
) -> None:
    one, two = gateway_processes
    inviter = await session.ws_connect(one.url(walk.id, walk.inviter.token))
    await next_of_type(inviter, "hello")
    invitee = await session.ws_connect(two.url(walk.id, walk.invitee.token))
    assert (await next_of_type(invitee, "hello"))["partner_online"] is True
    assert (await next_of_type(inviter, "presence"))["online"] is True

    await inviter.send_json({"lat": 37.55, "lng": 126.99, "timestamp": 1707750000})
    got = await next_of_type(invitee, "location")
    assert (got["user_id"], got["lat"], got["lng"]) == (walk.inviter.id, 37.55, 126.99)
    await invitee.send_json({"lat": 37.56, "lng": 126.98})
    got = await next_of_type(inviter, "location")
    assert (got["user_id"], got["lat"]) == (walk.invitee.id, 37.56)

    second = await session.ws_connect(two.url(walk.id, walk.inviter.token))
    await next_of_type(second, "hello")
    assert await closed_with(inviter) == 4009
    for ws in (invitee, second):
        await ws.close()


async def test_sigterm_closes_every_socket_1001_and_exits(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    walk: Walk,
    session: aiohttp.ClientSession,
) -> None:
    one, _ = gateway_processes
    sockets = []
    for walker in (walk.inviter, walk.invitee):
        ws = await session.ws_connect(one.url(walk.id, walker.token))
        await next_of_type(ws, "hello")
        sockets.append(ws)

    one.process.send_signal(signal.SIGTERM)
    for ws in sockets:
        assert await closed_with(ws) == 1001
    assert await asyncio.wait_for(one.process.wait(), EXIT_BOUND_S) == 0


async def test_access_log_never_shows_the_token(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    walk: Walk,
    session: aiohttp.ClientSession,
) -> None:
    one, _ = gateway_processes
    ws = await session.ws_connect(one.url(walk.id, walk.inviter.token))
    await next_of_type(ws, "hello")
    await ws.close()
    bad = await session.ws_connect(one.url(walk.id, "leaky-but-invalid-token"))
    assert await closed_with(bad) == 4001
    one.process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(one.process.wait(), EXIT_BOUND_S)
    log = one.log()
    assert f"/ws/walk-together/{walk.id}" in log
    assert walk.inviter.token not in log and "leaky-but-invalid-token" not in log
    assert "token=" not in log


async def test_a_gateway_process_serves_metrics_on_its_internal_listener_only(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    walk: Walk,
    session: aiohttp.ClientSession,
) -> None:
    one, _ = gateway_processes
    found = re.search(r"gateway metrics and health on http://127\.0\.0\.1:(\d+)/metrics", one.log())
    assert found, one.log()
    ws = await session.ws_connect(one.url(walk.id, walk.inviter.token))
    await next_of_type(ws, "hello")
    families = await scrape(int(found[1]))
    assert sample_value(families["withbowwow_ws_connections"], "withbowwow_ws_connections") == 1
    handshakes = families["withbowwow_ws_handshakes"]
    assert sample_value(handshakes, "withbowwow_ws_handshakes_total", result="accepted") == 1
    assert "process_resident_memory_bytes" in families
    async with session.get(f"http://127.0.0.1:{one.port}/metrics") as public:
        assert public.status == 404
    await ws.close()


async def test_a_killed_gateway_has_recorded_the_relays_it_made(
    gateway_processes: tuple[GatewayProcess, GatewayProcess],
    walk: Walk,
    session: aiohttp.ClientSession,
    db: asyncpg.Connection,
) -> None:
    """SIGKILL straight after a relay: its ledger entries exist both ways (issue 20: a killed
    gateway lost up to 5 s of them)."""
    one, _ = gateway_processes
    inviter = await session.ws_connect(one.url(walk.id, walk.inviter.token))
    await next_of_type(inviter, "hello")
    invitee = await session.ws_connect(one.url(walk.id, walk.invitee.token))
    await next_of_type(invitee, "hello")
    await inviter.send_json({"lat": 37.55, "lng": 126.99})
    await next_of_type(invitee, "location")
    one.process.kill()
    await one.process.wait()
    rows = await db.fetch(
        "SELECT user_id, direction, partner_id FROM location_access_log WHERE invitation_id = $1",
        uuid.UUID(walk.id),
    )
    a, b = uuid.UUID(walk.inviter.id), uuid.UUID(walk.invitee.id)
    assert {tuple(row) for row in rows} == {(a, "provided", b), (b, "received", a)}

"""`POST /realtime/tickets` and `?ticket=`: a one-use credential for the socket's URL, for one
walk, within 30 s, so that a URL a browser or a proxy keeps holds nothing usable (CONTRACT
section 4). And the gateway keeps no copy of the upgrade request's URL once it has it, nor of
its headers once the handshake is done."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from yarl import URL
from yarl._url import build_pre_encoded_url

from services.realtime.app import create_app
from services.realtime.keys import rooms_key
from services.realtime.upgrade_url import GatewayRequestHandler
from shared.realtime_tickets import TICKET_TTL_S, ticket_key
from shared.runner import make_runner
from shared.settings import Settings
from tests.realtime.conftest import (
    Gateway,
    Walk,
    Walker,
    closed_with,
    create_user,
    create_walk,
    eventually,
    next_of_type,
)
from tests.support import Api, assert_error

WALK_ROUTE = "/ws/walk-together/{invitation_id}"


def bearer(walker: Walker) -> dict[str, str]:
    return {"Authorization": f"Bearer {walker.token}"}


async def ticket_for(api: Api, walk: Walk, walker: Walker) -> str:
    body = await api.call(
        "POST",
        "/realtime/tickets",
        headers=bearer(walker),
        json={"invitation_id": walk.id},
        expect=201,
    )
    assert body["expires_in"] == TICKET_TTL_S and isinstance(body["ticket"], str)
    ticket: str = body["ticket"]
    return ticket


async def open_with_ticket(gateway: Gateway, walk_id: str, ticket: str) -> Any:
    url = str(gateway.server.make_url(f"/ws/walk-together/{walk_id}")) + f"?ticket={ticket}"
    return await gateway.session.ws_connect(url)


async def test_a_ticket_opens_the_walk_once(api: Api, gateway: Gateway, walk: Walk) -> None:
    ticket = await ticket_for(api, walk, walk.inviter)
    ws = await open_with_ticket(gateway, walk.id, ticket)
    hello = await next_of_type(ws, "hello")
    assert (hello["user_id"], hello["partner_id"]) == (walk.inviter.id, walk.invitee.id)
    again = await open_with_ticket(gateway, walk.id, ticket)
    assert await closed_with(again) == 4001
    await ws.close()


async def test_a_ticket_is_for_its_walk_only(
    api: Api, gateway: Gateway, walk: Walk, db: asyncpg.Connection, settings: Settings
) -> None:
    other = await create_walk(db, settings)
    await db.execute(
        "UPDATE invitations SET inviter_id = $1 WHERE id = $2",
        uuid.UUID(walk.inviter.id),
        uuid.UUID(other.id),
    )
    ticket = await ticket_for(api, walk, walk.inviter)
    ws = await open_with_ticket(gateway, other.id, ticket)
    assert await closed_with(ws) == 4001
    # Spent by that try: not usable for its own walk afterwards either.
    ws = await open_with_ticket(gateway, walk.id, ticket)
    assert await closed_with(ws) == 4001


async def test_a_ticket_lives_30_s_in_redis_under_a_digest(
    api: Api, walk: Walk, redis: aioredis.Redis
) -> None:
    ticket = await ticket_for(api, walk, walk.inviter)
    assert 0 < await redis.ttl(ticket_key(ticket)) <= TICKET_TTL_S
    assert not [key async for key in redis.scan_iter(match=f"*{ticket}*")]


async def test_an_expired_or_made_up_ticket_is_closed_4001(
    api: Api, gateway: Gateway, walk: Walk, redis: aioredis.Redis
) -> None:
    ticket = await ticket_for(api, walk, walk.inviter)
    await redis.pexpire(ticket_key(ticket), 1)  # as if its 30 s had passed
    await redis.delete(ticket_key(ticket))
    ws = await open_with_ticket(gateway, walk.id, ticket)
    assert await closed_with(ws) == 4001
    ws = await open_with_ticket(gateway, walk.id, "made-up")
    assert await closed_with(ws) == 4001


async def test_a_ticket_of_an_ended_session_is_refused_and_its_socket_closed_4001(
    api: Api, gateway: Gateway, walk: Walk
) -> None:
    open_ticket = await ticket_for(api, walk, walk.inviter)
    spare = await ticket_for(api, walk, walk.inviter)
    ws = await open_with_ticket(gateway, walk.id, open_ticket)
    await next_of_type(ws, "hello")
    await api.call("POST", "/auth/logout-all", headers=bearer(walk.inviter), expect=204)
    assert await closed_with(ws) == 4001
    late = await open_with_ticket(gateway, walk.id, spare)
    assert await closed_with(late) == 4001


async def test_tickets_are_issued_only_for_a_participants_accepted_walk(
    api: Api, walk: Walk, db: asyncpg.Connection, settings: Settings
) -> None:
    stranger = await create_user(db, settings)
    body = {"invitation_id": walk.id}
    assert_error(
        await api.call(
            "POST", "/realtime/tickets", headers=bearer(stranger), json=body, expect=404
        ),
        "not_found",
    )
    unknown = {"invitation_id": str(uuid.uuid4())}
    await api.call(
        "POST", "/realtime/tickets", headers=bearer(walk.inviter), json=unknown, expect=404
    )
    pending = await create_walk(db, settings, status="pending")
    assert_error(
        await api.call(
            "POST",
            "/realtime/tickets",
            headers=bearer(pending.invitee),
            json={"invitation_id": pending.id},
            expect=409,
        ),
        "conflict",
    )
    await api.call("POST", "/realtime/tickets", json=body, expect=401)
    await api.call(
        "POST", "/realtime/tickets", headers=bearer(walk.inviter), json={"id": walk.id}, expect=422
    )


async def test_a_walker_the_partner_blocked_gets_no_ticket(
    api: Api, walk: Walk, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)",
        uuid.UUID(walk.invitee.id),
        uuid.UUID(walk.inviter.id),
    )
    await api.call(
        "POST",
        "/realtime/tickets",
        headers=bearer(walk.inviter),
        json={"invitation_id": walk.id},
        expect=404,
    )


@pytest.fixture
async def served_gateway(settings: Settings) -> AsyncIterator[tuple[int, web.Application]]:
    """The gateway as its process serves it: on its own connection handler."""
    app = create_app(settings)
    runner = make_runner(app, settings, handler_class=GatewayRequestHandler)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], app
    await runner.cleanup()


@pytest.mark.parametrize("credential", ["token", "ticket"])
async def test_the_gateway_keeps_no_copy_of_the_upgrade_url(
    served_gateway: tuple[int, web.Application], api: Api, walk: Walk, credential: str
) -> None:
    port, app = served_gateway
    secret = (
        walk.inviter.token if credential == "token" else await ticket_for(api, walk, walk.inviter)
    )
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/ws/walk-together/{walk.id}?{credential}={secret}"
        ws = await session.ws_connect(url)
        assert (await next_of_type(ws, "hello"))["user_id"] == walk.inviter.id
        (connection,) = app[rooms_key].broker.all_members()
        request = connection.ws._req
        assert request is not None
        path = f"/ws/walk-together/{walk.id}"
        assert (request.path_qs, request.raw_path, str(request.rel_url)) == (path,) * 3
        assert request.query_string == "" and not request.query
        assert isinstance(request.protocol, GatewayRequestHandler)
        assert request.protocol.upgrade_query is None
        # yarl's cache of built URLs no longer holds the one with the secret: building it
        # again is a miss.
        misses = build_pre_encoded_url.cache_info().misses
        URL.build(path=path, query_string=f"{credential}={secret}", encoded=True)
        assert build_pre_encoded_url.cache_info().misses == misses + 1
        await ws.close()


async def test_the_gateway_keeps_no_raw_header_lines(
    served_gateway: tuple[int, web.Application], walk: Walk
) -> None:
    """The upgrade's header lines as bytes, a bearer token among them, are dropped as they are
    parsed (services/realtime/upgrade_url.py); the handshake reads the parsed headers."""
    port, app = served_gateway
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            f"http://127.0.0.1:{port}/ws/walk-together/{walk.id}", headers=bearer(walk.inviter)
        )
        assert (await next_of_type(ws, "hello"))["user_id"] == walk.inviter.id
        (connection,) = app[rooms_key].broker.all_members()
        request = connection.ws._req
        assert request is not None and request.raw_headers == ()
        await ws.close()


async def test_pipelined_requests_are_answered_in_order(
    served_gateway: tuple[int, web.Application],
) -> None:
    """The gateway's connections queue parsed requests in a list of their own, not aiohttp's
    deque (services/realtime/upgrade_url.py): three sent at once get three answers, in turn."""
    port, _ = served_gateway
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(request * 2 + b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)
    assert statuses == [b"200", b"200", b"404"]


async def test_an_open_socket_keeps_only_the_user_agent_of_its_headers(
    served_gateway: tuple[int, web.Application], walk: Walk, caplog: pytest.LogCaptureFixture
) -> None:
    """The handshake reads the headers (a bearer token among them); past it, the request keeps
    only the User-Agent (services/realtime/upgrade_url.py), which the access log still writes
    when the socket ends."""
    port, app = served_gateway
    user_agent = "walker-app/2.1 (test)"
    headers = {**bearer(walk.inviter), "User-Agent": user_agent, "X-Request-ID": "ua-test"}
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                f"http://127.0.0.1:{port}/ws/walk-together/{walk.id}", headers=headers
            )
            assert (await next_of_type(ws, "hello"))["user_id"] == walk.inviter.id
            (connection,) = app[rooms_key].broker.all_members()
            request = connection.ws._req
            assert request is not None
            assert request._cache == {} and request._message.url._cache == {}
            assert list(request.headers.items()) == [("User-Agent", user_agent)]
            assert request._message.headers is request.headers
            assert (request.method, request.path, request.match_info["invitation_id"]) == (
                "GET",
                f"/ws/walk-together/{walk.id}",
                walk.id,
            )
            await ws.close()

        def logged() -> list[logging.LogRecord]:
            return [r for r in caplog.records if getattr(r, "route", None) == WALK_ROUTE]

        await eventually(logged)
    (line,) = logged()
    assert (line.user_agent, line.request_id, line.status) == (user_agent, "ua-test", 101)


async def test_the_gateways_connections_share_one_access_logger(
    served_gateway: tuple[int, web.Application], walk: Walk
) -> None:
    port, app = served_gateway
    async with aiohttp.ClientSession() as session:
        for walker in (walk.inviter, walk.invitee):
            ws = await session.ws_connect(
                f"http://127.0.0.1:{port}/ws/walk-together/{walk.id}", headers=bearer(walker)
            )
            await next_of_type(ws, "hello")
        loggers = {
            id(connection.ws._req.protocol.access_logger)
            for connection in app[rooms_key].broker.all_members()
            if connection.ws._req is not None
        }
        assert len(loggers) == 1

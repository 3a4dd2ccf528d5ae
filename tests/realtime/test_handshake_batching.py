"""Handshakes waiting together share one invitation query (services/realtime/invitation_loader.py).

The queries are counted by asyncpg itself (a query logger on every connection of the gateway's
pool), and a table lock held by the test keeps the first query waiting in PostgreSQL until every
handshake has arrived, so how the load spreads on a busy machine cannot change the count.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from services.realtime.limits import GatewayLimits
from shared.db import db_pool_ctx, init_connection
from shared.keys import db_pool_key
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from tests.realtime.conftest import Gateway, closed_with, create_walk, next_of_type

HANDSHAKES = 200
# The first query goes alone; every handshake that arrived while it was held goes in the second.
A_HANDFUL = 5


@pytest.fixture
def limits() -> GatewayLimits:
    # No backstop round while we count: the handshakes are the only readers of `invitations`.
    return GatewayLimits(backstop_interval_s=3600)


@pytest.fixture
async def counted(
    settings: Settings, limits: GatewayLimits
) -> AsyncIterator[tuple[Gateway, list[str]]]:
    """A gateway whose pool is a real asyncpg pool that records every query it runs."""
    queries: list[str] = []

    async def logged(conn: asyncpg.Connection) -> None:
        await init_connection(conn)
        conn.add_query_logger(lambda logged_query: queries.append(logged_query.query))

    @asynccontextmanager
    async def counting_pool(app: web.Application) -> AsyncIterator[None]:
        async with asyncpg.create_pool(settings.database_url, init=logged) as pool:
            app[db_pool_key] = pool
            yield

    app = create_app(settings, limits)
    app.cleanup_ctx.insert(list(app.cleanup_ctx).index(db_pool_ctx) + 1, counting_pool)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)
    try:
        # No connector limit: all the sockets stay open at once.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            yield Gateway(server, session), queries
    finally:
        await server.close()


def invitation_queries(queries: list[str]) -> int:
    return sum("FROM invitations" in query for query in queries)


async def test_200_concurrent_handshakes_make_a_handful_of_queries(
    counted: tuple[Gateway, list[str]], db: asyncpg.Connection, settings: Settings
) -> None:
    gateway, queries = counted
    walks = [await create_walk(db, settings) for _ in range(HANDSHAKES // 2)]
    finished = await create_walk(db, settings, status="finished")
    attempts = [(walk.id, user.token) for walk in walks for user in (walk.inviter, walk.invitee)]
    # Refusals in the same batch: each handshake gets its own invitation's answer.
    refused = [
        (finished.id, finished.inviter.token),  # 4002: not accepted
        (str(uuid.uuid4()), walks[0].inviter.token),  # 4002: missing
        (walks[1].id, walks[0].inviter.token),  # 4003: not a participant
    ]
    before = invitation_queries(queries)

    async with db.transaction():
        await db.execute("LOCK TABLE invitations IN ACCESS EXCLUSIVE MODE")
        # The upgrade is accepted before the checks: every handshake is waiting when this returns.
        sockets = await asyncio.gather(
            *(gateway.connect(invitation_id, token) for invitation_id, token in attempts + refused)
        )
    accepted, refusals = sockets[: len(attempts)], sockets[len(attempts) :]

    hellos = await asyncio.gather(*(next_of_type(ws, "hello") for ws in accepted))
    assert [hello["invitation_id"] for hello in hellos] == [id_ for id_, _ in attempts]
    assert [await closed_with(ws) for ws in refusals] == [4002, 4002, 4003]
    assert invitation_queries(queries) - before <= A_HANDFUL
    for ws in sockets:
        await ws.close()


async def test_a_walk_ended_after_a_handshake_refuses_the_next_with_4002(
    counted: tuple[Gateway, list[str]], db: asyncpg.Connection, settings: Settings
) -> None:
    """Nothing is cached between handshakes: the next one reads the invitation's new state."""
    gateway, _ = counted
    walk = await create_walk(db, settings)
    ws, _ = await gateway.join(walk, walk.inviter)
    await db.execute("UPDATE invitations SET status = 'finished' WHERE id = $1", uuid.UUID(walk.id))
    late = await gateway.connect(walk.id, walk.invitee.token)
    assert await closed_with(late) == 4002
    await ws.close()

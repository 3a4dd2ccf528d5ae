"""The invitation sweeper: expiry, the automatic end of a walk, and what the gateways are told."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.client import PubSub

from services.api.app import create_app
from services.api.together.queries import (
    SWEEP_BATCH,
    expire_overdue_pending,
    finish_overdue_walks,
)
from services.api.together.sweeper import invitation_sweeper_key, sweep_once
from shared.db import create_pool
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import create_redis
from shared.walk_events import walk_channel
from tests.support import Api, make_settings

WAIT_S = 10.0


@pytest.fixture
async def all_walks(redis: aioredis.Redis) -> AsyncIterator[PubSub]:
    """Subscribed to every walk channel before the test triggers anything.

    Pub/sub ignores Redis database numbers, so other test runs' walks show up here too:
    read them with `next_message_about`.
    """
    pubsub = redis.pubsub()
    await pubsub.psubscribe("walk:*")
    yield pubsub
    await pubsub.aclose()


async def next_message_about(pubsub: PubSub, invitation_ids: set[str]) -> dict[str, Any]:
    """The next message about one of these invitations, on its own channel (bounded wait)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            data: dict[str, Any] = json.loads(message["data"])
            if data.get("invitation_id") in invitation_ids:
                assert message["channel"] == walk_channel(data["invitation_id"]).encode()
                return data


async def fast_api(database_url: str, redis_url: str, aiohttp_client: Any, **overrides: Any) -> Api:
    settings = make_settings(database_url, redis_url, invitation_sweep_interval_s=0.1, **overrides)
    return Api(await aiohttp_client(create_app(settings)))


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait, a bounded time, until `condition()` holds."""
    async with asyncio.timeout(WAIT_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def test_unanswered_invitation_expires_and_gateways_hear_of_it(
    database_url: str, redis_url: str, aiohttp_client: Any, all_walks: PubSub
) -> None:
    api = await fast_api(database_url, redis_url, aiohttp_client, invitation_ttl_s=1)
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id}
    )
    assert await next_message_about(all_walks, {invitation["id"]}) == {
        "type": "walk_ended",
        "invitation_id": invitation["id"],
        "status": "expired",
    }
    body = await api.call("GET", f"/invitations/{invitation['id']}", invitee, expect=200)
    assert body["status"] == "expired"
    assert body["ended_at"] == body["expires_at"]
    late = await api.call("POST", f"/invitations/{invitation['id']}/accept", invitee, expect=409)
    assert late["error"]["code"] == "conflict"


async def test_accepted_walk_finishes_by_itself_and_gateways_hear_of_it(
    database_url: str, redis_url: str, aiohttp_client: Any, all_walks: PubSub
) -> None:
    api = await fast_api(database_url, redis_url, aiohttp_client, max_walk_duration_s=1)
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", invitee, expect=200)
    assert await next_message_about(all_walks, {invitation["id"]}) == {
        "type": "walk_ended",
        "invitation_id": invitation["id"],
        "status": "finished",
    }
    body = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    assert body["status"] == "finished"
    assert parse(body["ended_at"]) == parse(body["responded_at"]) + dt.timedelta(seconds=1)
    # A new walk between the two may start at once.
    await api.call("POST", "/invitations", invitee, expect=201, json={"invitee_id": inviter.id})


async def test_sweeper_keeps_going_after_a_failed_sweep(
    database_url: str,
    redis_url: str,
    aiohttp_client: Any,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="services.api.together.sweeper")
    api = await fast_api(database_url, redis_url, aiohttp_client)
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id}
    )
    await db.execute("ALTER TABLE invitations RENAME TO invitations_away")
    await eventually(lambda: any("sweep failed" in r.getMessage() for r in caplog.records))
    await db.execute("ALTER TABLE invitations_away RENAME TO invitations")
    await db.execute("UPDATE invitations SET expires_at = now() - interval '1 second'")
    status_query = "SELECT status FROM invitations WHERE id = $1"
    invitation_id = uuid.UUID(invitation["id"])
    expired = False
    async with asyncio.timeout(WAIT_S):
        while not expired:
            await asyncio.sleep(0.05)
            expired = await db.fetchval(status_query, invitation_id) == "expired"


async def test_sweeper_task_is_cancelled_and_awaited_on_shutdown(
    settings: Any, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(settings))
    task = client.app[invitation_sweeper_key]
    assert not task.done()
    await client.close()
    assert task.cancelled()


# --- the sweep itself, without a running app -------------------------------------------------


async def add_users(db: asyncpg.Connection, count: int) -> list[uuid.UUID]:
    rows = await db.fetch(
        """INSERT INTO users (email, password_hash, nickname)
           SELECT gen_random_uuid() || '@example.com', 'x', 'u' || n FROM generate_series(1, $1) n
           RETURNING id""",
        count,
    )
    return [r["id"] for r in rows]


async def add_overdue(db: asyncpg.Connection, count: int, status: str) -> set[uuid.UUID]:
    """`count` invitations from one user to as many others, all past their time."""
    host, *guests = await add_users(db, count + 1)
    rows = await db.fetch(
        """INSERT INTO invitations (inviter_id, invitee_id, status, responded_at, expires_at)
           SELECT $1, guest, $3,
                  CASE WHEN $3 = 'accepted' THEN now() - interval '1 day' END,
                  now() - interval '1 second'
           FROM unnest($2::uuid[]) guest
           RETURNING id""",
        host,
        guests,
        status,
    )
    return {r["id"] for r in rows}


@pytest.fixture
async def bare_app(settings: Any) -> AsyncIterator[web.Application]:
    """What `sweep_once` needs, and no background sweeper to race it."""
    app = web.Application()
    app[settings_key] = settings
    async with create_pool(settings.database_url, max_size=4) as pool:
        app[db_pool_key] = pool
        app[redis_key] = create_redis(settings.redis_url)
        yield app
        await app[redis_key].aclose()


async def test_one_sweep_clears_a_backlog_larger_than_a_batch_and_announces_each_row(
    bare_app: web.Application, db: asyncpg.Connection, all_walks: PubSub
) -> None:
    expired = await add_overdue(db, 2 * SWEEP_BATCH + 10, "pending")
    finished = await add_overdue(db, 5, "accepted")
    await sweep_once(bare_app)
    rows = await db.fetch("SELECT id, status FROM invitations")
    assert {r["id"] for r in rows if r["status"] == "expired"} == expired
    assert {r["id"] for r in rows if r["status"] == "finished"} == finished
    ours = {str(i) for i in expired | finished}
    announced: dict[str, str] = {}
    while len(announced) < len(ours):
        message = await next_message_about(all_walks, ours)
        assert message["invitation_id"] not in announced
        announced[message["invitation_id"]] = message["status"]
    assert announced == {str(i): "expired" for i in expired} | {
        str(i): "finished" for i in finished
    }


async def test_a_sweep_leaves_invitations_within_their_time_alone(
    bare_app: web.Application, db: asyncpg.Connection, api: Api
) -> None:
    inviter, invitee, other = await api.signup(), await api.signup(), await api.signup()
    pending = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id}
    )
    walk = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": other.id}
    )
    await api.call("POST", f"/invitations/{walk['id']}/accept", other, expect=200)
    await sweep_once(bare_app)
    statuses = dict(await db.fetch("SELECT id::text, status FROM invitations"))
    assert statuses == {pending["id"]: "pending", walk["id"]: "accepted"}


@pytest.mark.parametrize("status", ["pending", "accepted"])
async def test_concurrent_sweeps_change_each_row_once(
    database_url: str, db: asyncpg.Connection, status: str
) -> None:
    overdue = await add_overdue(db, 300, status)
    max_walk = dt.timedelta(hours=1)

    async def sweep(conn: asyncpg.Connection) -> set[uuid.UUID]:
        changed = (
            await expire_overdue_pending(conn)
            if status == "pending"
            else await finish_overdue_walks(conn, max_walk)
        )
        return {change.invitation_id for change in changed}

    connections = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(sweep(conn) for conn in connections))
    finally:
        for conn in connections:
            await conn.close()
    assert sum(len(r) for r in results) == len(overdue)
    assert set().union(*results) == overdue

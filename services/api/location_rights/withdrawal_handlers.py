"""`DELETE /me/consents/location_terms`: withdraw location consent (위치정보법 §24) without
leaving the service.

In this order:
1. one transaction records the withdrawal (consents/) and erases the stored `path` of every walk
   of the caller (the walks keep distance and duration); from its commit the location features
   are refused (consents/gate.py: a walk with a path, sending or accepting an invitation);
2. each gateway holding the caller's socket in a live walk is told on that walk's channel to
   close it with 4005: this comes before the walk's end on the same channel, which would close
   it with 4004;
3. the caller's open invitations are cancelled as `/cancel` does, and the gateways told (the
   partner gets `walk_ended`, then 4004);
4. the caller's last locations go from Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

import asyncpg
from aiohttp import web
from redis.exceptions import RedisError

from services.api.consents.changes import CONSENT_CHANGES, withdraw_consent
from services.api.together.endings import PUBLISH_TIMEOUT_S, announce_walk_endings
from services.api.together.queries import withdraw_user
from services.api.web.authentication import current_user
from services.api.web.rate_limit import enforce
from shared.keys import db_pool_key, redis_key, settings_key
from shared.redis_client import RedisClient
from shared.walk_events import last_location_key, publish_location_stopped

log = logging.getLogger(__name__)


async def erase_paths(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE walks SET path = NULL WHERE user_id = $1 AND path IS NOT NULL", user_id
    )


async def walks_together(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The caller's invitations that were ever accepted (`live`: still under way)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, status = 'accepted' AS live FROM invitations
            WHERE (inviter_id = $1 OR invitee_id = $1) AND responded_at IS NOT NULL
              AND status <> 'declined'""",
        user_id,
    )
    return rows


async def stop_sockets(redis: RedisClient, live: list[uuid.UUID], user_id: uuid.UUID) -> None:
    """Step 2; a failure is logged: the walk's end still closes the socket (with 4004)."""
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            for invitation_id in live:
                await publish_location_stopped(redis, invitation_id, user_id)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("location_stopped not published (%s)", type(exc).__name__)


async def forget_last_locations(
    redis: RedisClient, invitation_ids: list[uuid.UUID], user_id: uuid.UUID
) -> None:
    """Step 4. One key a command: the keys of different walks may live on different shards."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for invitation_id in invitation_ids:
                pipe.delete(last_location_key(invitation_id, user_id))
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("last locations not erased (%s); they expire", type(exc).__name__)


async def withdraw_location_consent(request: web.Request) -> web.Response:
    user_id = current_user(request)
    await enforce(request, (CONSENT_CHANGES, str(user_id)))
    app = request.app
    max_walk = dt.timedelta(seconds=app[settings_key].max_walk_duration_s)
    async with app[db_pool_key].acquire() as conn:
        async with conn.transaction():
            await withdraw_consent(conn, request, user_id, "location_terms")
            await erase_paths(conn, user_id)
            together = await walks_together(conn, user_id)
        await stop_sockets(app[redis_key], [r["id"] for r in together if r["live"]], user_id)
        async with conn.transaction():
            endings = await withdraw_user(conn, max_walk, user_id)
    await announce_walk_endings(app[redis_key], endings)
    await forget_last_locations(app[redis_key], [r["id"] for r in together], user_id)
    return web.Response(status=204)
